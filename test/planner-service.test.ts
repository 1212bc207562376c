// The PlannerService over gRPC: served alone by tessera planner serve (bandit state in a file) and
// by the coordinator beside MergeService (signals on the NATS workers, bandit state in KV).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Metadata, credentials, loadPackageDefinition, status as grpcStatus } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { sha256File } from '@tessera/checkpoint';
import { plannerServiceClient } from '@tessera/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { type NatsServer, startNats } from './support/nats.js';
import { type Service, spawnService } from './support/services.js';
import { tempDir } from './support/tmp.js';
import { ZOO } from './support/vocab-fixtures.js';

const dir = tempDir('planner-service');
const services: Service[] = [];
let nats: NatsServer | undefined;
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.kill('SIGKILL')));
  await nats?.stop();
  nats = undefined;
});

type Call = (req: object, md: Metadata, cb: (e: { code: number; details: string } | null, r: Record<string, unknown>) => void) => void;
function client(port: number, token?: string) {
  const Ctor = plannerServiceClient();
  const c = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as Record<string, Call> & { close(): void };
  const md = new Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  const call = (method: string, req: object) =>
    new Promise<{ error: { code: number; details: string } | null; res: Record<string, unknown> }>((res) =>
      c[method]!.call(c, req, md, (error, r) => res({ error, res: r })),
    );
  return { call, close: () => c.close() };
}

const pair = { base: join(ZOO, 'base'), models: [join(ZOO, 'add'), join(ZOO, 'rev')] };

describe('PlannerService', () => {
  it('tessera planner serve: plans, lists candidates, learns reported outcomes (state in a file), refuses bad calls; health and metrics over HTTP', async () => {
    const svc = spawnService(
      ['planner', 'serve', '--grpc', '127.0.0.1:0', '--token', 'sesame', '--bandit', join(dir, 'bandit.json'), '--workers', '1', '--http', '127.0.0.1:0'],
      {
        env: { TESSERA_CACHE_DIR: join(dir, 'cache-serve') },
      },
    );
    services.push(svc);
    const port = (await svc.waitFor((l) => l.event === 'ready')).port as number;
    const c = client(port, 'sesame');
    const list = await c.call('ListCandidates', {});
    expect((list.res.candidates as string[]).length).toBe(23);
    const plan = await c.call('Plan', pair);
    expect(plan.error).toBeNull();
    expect(plan.res.recipe as string).toMatch(/^# planned by tessera: /);
    expect((plan.res.predictions as unknown[]).length).toBe(23);
    for (const n of [1, 2]) {
      const r = await c.call('ReportOutcome', { base: pair.base, model_a: pair.models[0], model_b: pair.models[1], candidate: 'ta_1.0', score: 0.55 });
      expect(r.error).toBeNull();
      expect(Number(r.res.pulls)).toBe(n);
    }
    const explore = await c.call('Plan', { ...pair, explore: true });
    expect((list.res.candidates as string[]).includes(explore.res.candidate as string)).toBe(true);
    const bad = await c.call('Plan', { base: pair.base, models: [pair.models[0]] });
    expect(bad.error?.code).toBe(grpcStatus.INVALID_ARGUMENT);
    const anonymous = await client(port).call('ListCandidates', {});
    expect(anonymous.error?.code).toBe(grpcStatus.UNAUTHENTICATED);
    // health answers for the service without a token
    const healthDef = loadSync(createRequire(import.meta.url).resolve('grpc-health-check/proto/health/v1/health.proto'), { keepCase: true, enums: String });
    type HealthCtor = new (a: string, c: unknown) => { Check(r: object, cb: (e: Error | null, r: { status: string }) => void): void; close(): void };
    const Health = (loadPackageDefinition(healthDef) as unknown as { grpc: { health: { v1: { Health: HealthCtor } } } }).grpc.health.v1.Health;
    const h = new Health(`127.0.0.1:${port}`, credentials.createInsecure());
    expect(await new Promise<string>((res, rej) => h.Check({ service: 'tessera.v1.PlannerService' }, (e, r) => (e ? rej(e) : res(r.status))))).toBe('SERVING');
    h.close();
    c.close();
    // over HTTP: alive, ready (no NATS to wait for), and every call counted by method and outcome
    const http = `http://127.0.0.1:${(await svc.waitFor((l) => l.event === 'http')).port as number}`;
    expect((await fetch(`${http}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${http}/readyz`)).json()).toEqual({ ready: true, connected: true, stopping: false });
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toMatch(/^tessera_planner_calls_total\{method="ListCandidates",outcome="ok"\} 1$/m);
    expect(metrics).toMatch(/^tessera_planner_calls_total\{method="Plan",outcome="ok"\} 2$/m);
    expect(metrics).toMatch(/^tessera_planner_calls_total\{method="Plan",outcome="error"\} 1$/m);
    expect(metrics).toMatch(/^tessera_planner_calls_total\{method="ReportOutcome",outcome="ok"\} 2$/m);
    expect(metrics).toMatch(/^tessera_planner_call_seconds_count\{method="Plan"\} 3$/m);
  });

  it('the coordinator serves it too: signals computed on the workers, outcomes kept in JetStream KV', async () => {
    nats = await startNats();
    const coord = spawnService(['coordinator', '--nats', nats.url, '--grpc', '127.0.0.1:0', '--token', 'sesame'], {
      env: { TESSERA_CACHE_DIR: join(dir, 'cache-coord') },
    });
    const worker = spawnService(['worker', '--nats', nats.url, '--threads', '1']);
    services.push(coord, worker);
    const port = (await coord.waitFor((l) => l.event === 'ready')).port as number;
    await worker.waitFor((l) => l.event === 'started');
    const c = client(port, 'sesame');
    const s = await c.call('Signals', pair);
    expect(s.error).toBeNull();
    const p = (s.res.pairs as Record<string, number>[])[0]!;
    expect(p.cos).toBeGreaterThan(-1);
    expect(p.ties_conflict).toBeGreaterThan(0);
    expect(worker.lines.some((l) => l.event === 'task')).toBe(true);
    const r = await c.call('ReportOutcome', { base: pair.base, model_a: pair.models[0], model_b: pair.models[1], candidate: 'keep_a', score: 0.5 });
    expect(Number(r.res.pulls)).toBe(1);
    // a second coordinator reads the same bandit state from KV
    const second = spawnService(['coordinator', '--nats', nats.url, '--grpc', '127.0.0.1:0', '--token', 'sesame'], {
      env: { TESSERA_CACHE_DIR: join(dir, 'cache-coord2') },
    });
    services.push(second);
    const port2 = (await second.waitFor((l) => l.event === 'ready')).port as number;
    const r2 = await client(port2, 'sesame').call('ReportOutcome', {
      base: pair.base,
      model_a: pair.models[0],
      model_b: pair.models[1],
      candidate: 'keep_a',
      score: 0.5,
    });
    expect(Number(r2.res.pulls)).toBe(2);
    c.close();
    // submit --plan: the coordinator plans, then merges the planned recipe on the workers
    const out = join(dir, 'planned');
    const sub = await tessera(['submit', '--plan', pair.base, ...pair.models, '--out', out, '--server', `127.0.0.1:${port}`, '--token', 'sesame', '--watch'], {
      timeoutMs: 120_000,
    });
    expect(sub.code, sub.stderr).toBe(0);
    expect(sub.stderr).toMatch(/^# planned by tessera: /);
    const local = await tessera(['plan', pair.base, ...pair.models, '--out', join(dir, 'local-plan.yaml')]);
    expect(local.code, local.stderr).toBe(0);
    expect((await tessera(['merge', join(dir, 'local-plan.yaml'), '--out', join(dir, 'local-planned'), '--no-fsync'])).code).toBe(0);
    expect(await sha256File(join(out, 'model.safetensors'))).toBe(await sha256File(join(dir, 'local-planned', 'model.safetensors')));
  });
});
