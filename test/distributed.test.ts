// Distributed execution with real parts: a nats-server (JetStream, file store), coordinator and
// shard-worker processes, the gRPC API through the CLI and a raw client.
import { readFileSync, readdirSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Metadata, credentials, status as grpcStatus } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { sha256File } from '@tessera/checkpoint';
import { mergeRecipeFile, planRecipe } from '@tessera/engine';
import { mergeServiceClient } from '@tessera/protocol';
import { loadRecipe } from '@tessera/recipe';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { type NatsServer, startNats } from './support/nats.js';
import { startRangeServer } from './support/range-server.js';
import { type Service, spawnService } from './support/services.js';
import { type LlamaShape, writeSyntheticModel } from './support/synthetic.js';
import { tempDir } from './support/tmp.js';
import { ZOO } from './support/vocab-fixtures.js';

const SHAPE: LlamaShape = { layers: 4, hidden: 512, intermediate: 2304, vocab: 4096, heads: 8, kvHeads: 2 };
const root = tempDir('dist');
/** a folder outside the coordinator's root */
const elsewhere = tempDir('dist-elsewhere');
const env = { TESSERA_ACK_WAIT_MS: '3000' };
let nats: NatsServer;
const services: Service[] = [];

const spawnS = (args: string[], cwd?: string, extraEnv: Record<string, string> = {}) => {
  const s = spawnService(args, { env: { ...env, ...extraEnv }, ...(cwd ? { cwd } : {}) });
  services.push(s);
  return s;
};
async function coordinator(token = 'sesame', extra: string[] = []): Promise<{ svc: Service; server: string }> {
  const svc = spawnS(['coordinator', '--nats', nats.url, '--grpc', '127.0.0.1:0', '--token', token, ...extra]);
  const ready = await svc.waitFor((l) => l.event === 'ready');
  return { svc, server: `127.0.0.1:${ready.port as number}` };
}
async function worker(cwd?: string, extraEnv: Record<string, string> = {}): Promise<Service> {
  // outputs are not flushed before acks: these tests kill processes, not machines
  const w = spawnS(['worker', '--nats', nats.url, '--threads', '1', '--no-fsync'], cwd, extraEnv);
  await w.waitFor((l) => l.event === 'started');
  return w;
}
const taskLines = (w: Service, job?: string) => w.lines.filter((l) => l.event === 'task' && (!job || l.job === job));

beforeAll(async () => {
  for (const [e, m] of ['base', 'e1', 'e2', 'e3'].entries()) await writeSyntheticModel(join(root, m), SHAPE, e);
  writeFileSync(
    join(root, 'dare.yaml'),
    'merge_method: dare_ties\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 1, density: 0.3}}\n  - {model: e2, parameters: {weight: 0.7, density: 0.3}}\n  - {model: e3, parameters: {weight: 0.5, density: 0.3}}\nseed: 5\n',
  );
  // two documents whose tensors have the same indices (and so, unscoped, the same task ids)
  writeFileSync(
    join(root, 'multi.yaml'),
    'name: inner\nmerge_method: task_arithmetic\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 1}}\n  - {model: e2, parameters: {weight: 0.5}}\n---\nmerge_method: ties\nbase_model: base\nmodels:\n  - {model: inner, parameters: {weight: 1, density: 0.5}}\n  - {model: e3, parameters: {weight: 1, density: 0.5}}\n',
  );
  writeFileSync(
    join(root, 'della.yaml'),
    'merge_method: della_linear\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 1, density: 0.5}}\n  - {model: e2, parameters: {weight: 1, density: 0.5}}\n  - {model: e3, parameters: {weight: 1, density: 0.5}}\n',
  );
}, 120_000);
// a fresh server per test: a job left unfinished by one test is not resumed by the next one's coordinator
beforeEach(async () => {
  nats = await startNats();
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.kill('SIGKILL')));
  await nats.stop();
});

async function embedded(recipe: string, name: string, sliceMb = 1): Promise<string> {
  const out = join(root, `embedded-${name}`);
  if (!existsSync(out)) await mergeRecipeFile(join(root, recipe), { out, workers: 2, fsync: false, sliceBytes: sliceMb * 2 ** 20 });
  return sha256File(join(out, 'model.safetensors'));
}

async function submit(server: string, recipe: string, out: string, extra: string[] = []): Promise<string> {
  const r = await tessera(['submit', recipe, '--out', out, '--server', server, '--token', 'sesame', '--slice-mb', '1', '--json', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout.split('\n')[0]!) as { job_id: string }).job_id;
}

/**
 * A coordinator and a worker with a DELLA job under way: three merge tasks done, then the worker
 * stopped (SIGSTOP) so that the job cannot end before the test acts (it takes a few seconds);
 * `resume` lets it go on.
 */
async function coordinatorMidJob(outName: string) {
  const first = await coordinator();
  const w = await worker();
  const out = join(root, outName);
  const job = await submit(first.server, join(root, 'della.yaml'), out);
  await w.waitFor(() => taskLines(w, job).filter((l) => String(l.task).includes('/m/')).length >= 3, 60_000);
  w.proc.kill('SIGSTOP');
  return { first, w, out, job, resume: () => w.proc.kill('SIGCONT') };
}

async function waitJob(server: string, job: string, timeoutMs = 120_000): Promise<{ state: string; error: string; redeliveries: number }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await tessera(['status', job, '--server', server, '--token', 'sesame', '--json']);
    if (r.code === 0 || r.code === 1) {
      const j = JSON.parse(r.stdout) as { state: string; error: string; redeliveries: number };
      if (['done', 'failed', 'cancelled'].includes(j.state)) return j;
    }
    if (Date.now() > until) throw new Error(`job ${job} did not end`);
    await new Promise((res) => setTimeout(res, 300));
  }
}

describe('distributed merges', () => {
  it('a coordinator and two workers write the bytes of the embedded run', async () => {
    const { server } = await coordinator();
    const [w1, w2] = [await worker(), await worker()];
    const out = join(root, 'out-dare');
    const r = await tessera(['submit', join(root, 'dare.yaml'), '--out', out, '--server', server, '--token', 'sesame', '--slice-mb', '1', '--watch']);
    expect(r.code, r.stderr).toBe(0);
    expect(await sha256File(join(out, 'model.safetensors'))).toBe(await embedded('dare.yaml', 'dare'));
    expect(taskLines(w1).length).toBeGreaterThan(0);
    expect(taskLines(w2).length).toBeGreaterThan(0);
    const st = await tessera(['status', '--server', server, '--token', 'sesame', '--json']);
    expect((JSON.parse(st.stdout) as { workers: unknown[] }).workers).toHaveLength(2);
  });

  it('reads HTTP sources by byte ranges only (each worker in its own folder)', async () => {
    const http = await startRangeServer(join(ZOO, '..'));
    try {
      const { server } = await coordinator();
      for (const n of [1, 2]) {
        const cwd = join(root, `w${n}`);
        mkdirSync(cwd, { recursive: true });
        await worker(cwd);
      }
      const recipe = (src: string) =>
        `merge_method: ties\nbase_model: ${src}/base\nmodels:\n  - {model: ${src}/add, parameters: {weight: 1, density: 0.3}}\n  - {model: ${src}/vow, parameters: {weight: 1, density: 0.3}}\ndtype: bfloat16\n`;
      writeFileSync(join(root, 'http.yaml'), recipe(`${http.url}/zoo`));
      writeFileSync(join(root, 'local.yaml'), recipe(ZOO.replace(/\/$/, '')));
      const out = join(root, 'out-http');
      const r = await tessera(['submit', join(root, 'http.yaml'), '--out', out, '--server', server, '--token', 'sesame', '--watch']);
      expect(r.code, r.stderr).toBe(0);
      await mergeRecipeFile(join(root, 'local.yaml'), { out: join(root, 'out-local'), fsync: false });
      expect(await sha256File(join(out, 'model.safetensors'))).toBe(await sha256File(join(root, 'out-local', 'model.safetensors')));
      expect(readFileSync(join(out, 'tokenizer.json'))).toEqual(readFileSync(join(ZOO, 'base', 'tokenizer.json')));
      // every data request is one planned slice of one input (or a header read)
      const plan = await planRecipe(loadRecipe(join(root, 'local.yaml'))[0]!);
      const slices = new Set(
        plan.tensors.flatMap((t) =>
          t.context.slices.flatMap((s) => t.inputs.map((i) => `zoo/${i.uri.split('/zoo/')[1]}:${i.offset + s.elemStart * 2}:${s.n * 2}`)),
        ),
      );
      const data = http.requests.filter((q) => q.path.endsWith('model.safetensors') && q.start >= 8 + 4000);
      expect(data.length).toBeGreaterThan(0);
      for (const q of data) expect(slices.has(`${q.path}:${q.start}:${q.end - q.start + 1}`), `${q.path} ${q.start}-${q.end}`).toBe(true);
    } finally {
      await http.close();
    }
  }, 150_000);

  it('survives kill -9 of a worker: redelivered tasks, identical bytes', async () => {
    const { server } = await coordinator();
    const victim = await worker();
    const out = join(root, 'out-kill-worker');
    const job = await submit(server, join(root, 'della.yaml'), out);
    await victim.waitFor((l) => l.event === 'task' && l.job === job, 60_000);
    // stopped at once, the victim still holds tasks when it dies (the job takes a few seconds)
    victim.proc.kill('SIGSTOP');
    const survivor = await worker();
    await victim.kill('SIGKILL');
    const end = await waitJob(server, job);
    expect(end.state).toBe('done');
    expect(end.redeliveries).toBeGreaterThan(0);
    expect(taskLines(survivor, job).length).toBeGreaterThan(0);
    expect(await sha256File(join(out, 'model.safetensors'))).toBe(await embedded('della.yaml', 'della'));
  });

  it('SIGTERM on a worker mid-job: it finishes what it holds and exits 0; the job completes on the other, none of its finished tasks rerun; metrics move', async () => {
    const { svc, server } = await coordinator('sesame', ['--http', '127.0.0.1:0']);
    const http = `http://127.0.0.1:${(await svc.waitFor((l) => l.event === 'http')).port as number}`;
    const leaving = spawnS(['worker', '--nats', nats.url, '--threads', '1', '--no-fsync', '--grace-seconds', '10']);
    await leaving.waitFor((l) => l.event === 'started');
    const staying = await worker();
    const out = join(root, 'out-sigterm-worker');
    const job = await submit(server, join(root, 'della.yaml'), out);
    // scraped while the job runs: the queue has a backlog and the job's bytes advance
    const scrapes: { backlog: number; bytes: number }[] = [];
    let ended = false;
    const scraping = (async () => {
      for (let i = 0; i < 600 && !ended; i++) {
        const text = await (await fetch(`${http}/metrics`)).text();
        const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
        scrapes.push({
          backlog: value('tessera_coordinator_queue_backlog\\{pool="cpu"\\}'),
          bytes: value(`tessera_coordinator_job_bytes_done\\{job="${job}"\\}`),
        });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await leaving.waitFor((l) => l.event === 'task' && l.job === job, 60_000);
    const signalled = Date.now();
    const code = await leaving.kill('SIGTERM');
    expect(code, leaving.stderr()).toBe(0);
    // within the grace period, plus the bounded waits for aborted tasks and the NATS drain
    expect(Date.now() - signalled).toBeLessThan(25_000);
    expect(leaving.lines.some((l) => l.event === 'stopped')).toBe(true);
    const end = await waitJob(server, job);
    ended = true;
    await scraping;
    expect(end.state).toBe('done');
    // what the leaving worker finished was acknowledged: no other worker runs it again (nats-server
    // 2.9 may deliver a task it handed back twice, both with delivery count 1, a server bug fixed
    // in 2.10; the rerun writes the same bytes)
    const finished = new Set(taskLines(leaving, job).map((l) => String(l.task)));
    expect(finished.size).toBeGreaterThan(0);
    expect(taskLines(staying, job).filter((l) => finished.has(String(l.task)))).toEqual([]);
    expect(taskLines(staying, job).length).toBeGreaterThan(0);
    expect(await sha256File(join(out, 'model.safetensors'))).toBe(await embedded('della.yaml', 'della'));
    expect(Math.max(...scrapes.map((x) => x.backlog))).toBeGreaterThan(0);
    const bytes = scrapes.map((x) => x.bytes).filter((b) => Number.isFinite(b));
    expect(Math.max(...bytes)).toBeGreaterThan(Math.min(...bytes));
  }, 150_000);

  it('SIGTERM on the coordinator mid-job: it exits 0 leaving the job resumable; the next one finishes it without redoing tasks', async () => {
    const { first, w, out, job, resume } = await coordinatorMidJob('out-sigterm-coord');
    expect(await first.svc.kill('SIGTERM'), first.svc.stderr()).toBe(0);
    expect(first.svc.lines.some((l) => l.event === 'job-end' || l.event === 'job-failed')).toBe(false);
    const before = new Set(taskLines(w, job).map((l) => String(l.task)));
    resume();
    const second = await coordinator();
    const end = await waitJob(second.server, job);
    expect(end.state).toBe('done');
    const all = taskLines(w, job).map((l) => String(l.task));
    expect([...before].filter((t) => all.filter((x) => x === t).length > 1)).toEqual([]);
    expect(all.length).toBeGreaterThan(before.size);
    expect(await sha256File(join(out, 'model.safetensors'))).toBe(await embedded('della.yaml', 'della'));
  });

  it('resumes after kill -9 of the coordinator without redoing finished tasks', async () => {
    const { first, w, out, job, resume } = await coordinatorMidJob('out-kill-coord');
    await first.svc.kill('SIGKILL');
    const before = new Set(taskLines(w, job).map((l) => String(l.task)));
    resume();
    const second = await coordinator();
    const end = await waitJob(second.server, job);
    expect(end.state).toBe('done');
    const all = taskLines(w, job).map((l) => String(l.task));
    const repeated = [...before].filter((t) => all.filter((x) => x === t).length > 1);
    expect(repeated).toEqual([]);
    expect(all.length).toBeGreaterThan(before.size);
    expect(await sha256File(join(out, 'model.safetensors'))).toBe(await embedded('della.yaml', 'della'));
  });

  it('runs a multi-document recipe: the bytes of the embedded run', async () => {
    const { server } = await coordinator();
    await worker();
    const out = join(root, 'out-multi');
    const r = await tessera(['submit', join(root, 'multi.yaml'), '--out', out, '--server', server, '--token', 'sesame', '--slice-mb', '1', '--watch']);
    expect(r.code, r.stderr).toBe(0);
    expect(await sha256File(join(out, 'model.safetensors'))).toBe(await embedded('multi.yaml', 'multi'));
  });

  it('resumes a multi-document job whose coordinator was killed during the second document', async () => {
    const first = await coordinator();
    const w = await worker();
    const out = join(root, 'out-multi-kill');
    const job = await submit(first.server, join(root, 'multi.yaml'), out);
    const second = (l: Record<string, unknown>) => String(l.task).startsWith('d1:') && String(l.task).includes('/m/');
    await w.waitFor(() => taskLines(w, job).filter(second).length >= 3, 90_000);
    await first.svc.kill('SIGKILL');
    const before = new Set(taskLines(w, job).map((l) => String(l.task)));
    const again = await coordinator();
    const end = await waitJob(again.server, job);
    expect(end.state, end.error).toBe('done');
    const all = taskLines(w, job).map((l) => String(l.task));
    expect([...before].filter((t) => t.startsWith('d0:') && t.includes('/m/') && all.filter((x) => x === t).length > 1)).toEqual([]);
    expect(all.filter((t) => t.startsWith('d0:')).length).toBe([...before].filter((t) => t.startsWith('d0:')).length);
    // the second coordinator finished the second document
    expect(all.filter((t) => t.startsWith('d1:')).length).toBeGreaterThan([...before].filter((t) => t.startsWith('d1:')).length);
    expect(await sha256File(join(out, 'model.safetensors'))).toBe(await embedded('multi.yaml', 'multi'));
  }, 150_000);

  it('completes across a nats-server restart (file-backed JetStream)', async () => {
    const { server } = await coordinator();
    const w = await worker();
    const out = join(root, 'out-nats-restart');
    const job = await submit(server, join(root, 'della.yaml'), out);
    await w.waitFor((l) => l.event === 'task' && l.job === job, 60_000);
    await nats.kill();
    await new Promise((r) => setTimeout(r, 1000));
    await nats.restart();
    const end = await waitJob(server, job, 180_000);
    expect(end.state).toBe('done');
    expect(await sha256File(join(out, 'model.safetensors'))).toBe(await embedded('della.yaml', 'della'));
  });

  it("fails a job whose task always fails, after max_deliver, with the worker's error and no output", async () => {
    const http = await startRangeServer(join(ZOO, '..'));
    try {
      http.failData(/model\.safetensors$/, 10_000);
      const { server } = await coordinator();
      await worker(undefined, { TESSERA_HTTP_ATTEMPTS: '2' });
      writeFileSync(
        join(root, 'fail.yaml'),
        `merge_method: task_arithmetic\nbase_model: ${http.url}/zoo/base\nmodels:\n  - {model: ${http.url}/zoo/up, parameters: {weight: 1}}\n`,
      );
      const out = join(root, 'out-fail');
      const job = await submit(server, join(root, 'fail.yaml'), out);
      const end = await waitJob(server, job, 120_000);
      expect(end.state).toBe('failed');
      expect(end.error).toMatch(/zoo\/(base|up)\/resolve\/main\/model.safetensors: HTTP 500 Internal Server Error \(after 2 attempts\)/);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(root).filter((f) => f.startsWith('.out-fail'))).toEqual([]);
    } finally {
      await http.close();
    }
  }, 150_000);

  it('fails a job on the first delivery of a task whose input is wrong (no retry of a deterministic error)', async () => {
    const http = await startRangeServer(join(ZOO, '..'));
    try {
      http.failData(/model\.safetensors$/, 10_000, 404);
      const { server } = await coordinator();
      const w = await worker();
      writeFileSync(
        join(root, 'gone.yaml'),
        `merge_method: task_arithmetic\nbase_model: ${http.url}/zoo/base\nmodels:\n  - {model: ${http.url}/zoo/up, parameters: {weight: 1}}\n`,
      );
      const job = await submit(server, join(root, 'gone.yaml'), join(root, 'out-gone'));
      const end = await waitJob(server, job, 60_000);
      expect(end.state).toBe('failed');
      expect(end.error).toMatch(/HTTP 404/);
      const failures = w.lines.filter((l) => l.event === 'task-failed' && l.job === job);
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.every((l) => l.delivery === 1 && l.final === true)).toBe(true);
      expect(end.redeliveries).toBe(0);
    } finally {
      await http.close();
    }
  });
});

describe('the gRPC API', () => {
  it('refuses calls without the right token, and paths outside its roots; health and reflection answer without a token', async () => {
    const { server } = await coordinator('sesame', ['--root', root]);
    const outside = await tessera(['submit', join(root, 'dare.yaml'), '--out', '/tmp/elsewhere', '--server', server, '--token', 'sesame']);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/\/tmp\/elsewhere: output is outside the folders this coordinator may use/);
    writeFileSync(join(root, 'aim-outside.yaml'), `${readFileSync(join(root, 'dare.yaml'), 'utf8')}aim: {calibration: ${join(ZOO, 'probes.jsonl')}}\n`);
    const calibration = await tessera(['submit', join(root, 'aim-outside.yaml'), '--out', join(root, 'x'), '--server', server, '--token', 'sesame']);
    expect(calibration.code).toBe(2);
    expect(calibration.stderr).toMatch(/probes\.jsonl: aim\.calibration is outside the folders this coordinator may use/);
    const wrong = await tessera(['status', '--server', server, '--token', 'nope']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/missing or wrong bearer token/);
    const none = await tessera(['submit', join(root, 'dare.yaml'), '--out', join(root, 'x'), '--server', server]);
    expect(none.code).toBe(2);
    const Client = mergeServiceClient();
    const c = new Client(server, credentials.createInsecure()) as unknown as {
      List(r: object, md: Metadata, cb: (e: { code: number } | null) => void): void;
      close(): void;
    };
    const code = await new Promise<number>((res) => c.List({}, new Metadata(), (e) => res(e?.code ?? 0)));
    expect(code).toBe(grpcStatus.UNAUTHENTICATED);
    c.close();
    const healthDef = loadSync(createRequire(import.meta.url).resolve('grpc-health-check/proto/health/v1/health.proto'), { keepCase: true, enums: String });
    const Health = (
      loadPackageDefinition(healthDef) as unknown as {
        grpc: {
          health: {
            v1: { Health: new (a: string, c: unknown) => { Check(r: object, cb: (e: Error | null, r: { status: string }) => void): void; close(): void } };
          };
        };
      }
    ).grpc.health.v1.Health;
    const h = new Health(server, credentials.createInsecure());
    const health = await new Promise<string>((res, rej) => h.Check({ service: 'tessera.v1.MergeService' }, (e, r) => (e ? rej(e) : res(r.status))));
    expect(health).toBe('SERVING');
    h.close();
    // server reflection lists the services to generic clients
    const reflDef = loadSync(createRequire(import.meta.url).resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto'), { keepCase: true });
    type Refl = new (a: string, c: unknown) => { ServerReflectionInfo(): NodeJS.ReadWriteStream & { write(m: object): void; end(): void }; close(): void };
    const Reflection = (loadPackageDefinition(reflDef) as unknown as { grpc: { reflection: { v1: { ServerReflection: Refl } } } }).grpc.reflection.v1
      .ServerReflection;
    const rc = new Reflection(server, credentials.createInsecure());
    const call = rc.ServerReflectionInfo();
    const names = await new Promise<string[]>((res, rej) => {
      call.on('data', (m: { list_services_response?: { service: { name: string }[] } }) => res(m.list_services_response?.service.map((x) => x.name) ?? []));
      call.on('error', rej);
      call.write({ list_services: '' });
    });
    call.end();
    rc.close();
    expect(names).toEqual(expect.arrayContaining(['tessera.v1.MergeService', 'grpc.health.v1.Health']));
  });

  it('confines paths by their real location: symlinks out of a root are refused for reading and writing (PERMISSION_DENIED)', async () => {
    const { server } = await coordinator('sesame', ['--root', root]);
    symlinkSync(join(ZOO, 'up'), join(root, 'up-link'));
    symlinkSync(elsewhere, join(root, 'tmplink'));
    writeFileSync(join(root, 'link-in.yaml'), `merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - {model: up-link, parameters: {weight: 1}}\n`);
    const read = await tessera(['submit', join(root, 'link-in.yaml'), '--out', join(root, 'out-link-in'), '--server', server, '--token', 'sesame']);
    expect(read.code).toBe(2);
    expect(read.stderr).toMatch(/up-link: models\[0\]\.model is outside the folders this coordinator may use .*it leads to .*zoo\/up/);
    const write = await tessera(['submit', join(root, 'dare.yaml'), '--out', join(root, 'tmplink', 'escape'), '--server', server, '--token', 'sesame']);
    expect(write.code).toBe(2);
    expect(write.stderr).toMatch(/tmplink\/escape: output is outside the folders/);
    symlinkSync(elsewhere, join(root, 'out-as-link'));
    const linked = await tessera([
      'submit',
      join(root, 'dare.yaml'),
      '--out',
      join(root, 'out-as-link'),
      '--server',
      server,
      '--token',
      'sesame',
      '--overwrite',
    ]);
    expect(linked.code).toBe(2);
    expect(linked.stderr).toMatch(/output is a symbolic link/);
    await new Promise((r) => setTimeout(r, 500));
    expect(readdirSync(elsewhere)).toEqual([]);
    // the raw status is PERMISSION_DENIED
    const Client = mergeServiceClient();
    const c = new Client(server, credentials.createInsecure()) as unknown as {
      Submit(r: object, md: Metadata, cb: (e: { code: number } | null) => void): void;
      close(): void;
    };
    const md = new Metadata();
    md.set('authorization', 'Bearer sesame');
    const code = await new Promise<number>((res) =>
      c.Submit({ recipe: readFileSync(join(root, 'link-in.yaml'), 'utf8'), recipe_dir: root, output: join(root, 'out-raw') }, md, (e) => res(e?.code ?? 0)),
    );
    expect(code).toBe(grpcStatus.PERMISSION_DENIED);
    c.close();
  });

  it("cancel: workers stop taking the job's tasks and the partial output is removed", async () => {
    const { server } = await coordinator();
    const w = await worker();
    const out = join(root, 'out-cancel');
    const job = await submit(server, join(root, 'della.yaml'), out);
    await w.waitFor((l) => l.event === 'task' && l.job === job, 60_000);
    const r = await tessera(['cancel', job, '--server', server, '--token', 'sesame']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cancelled/);
    await new Promise((res) => setTimeout(res, 1500));
    const after = taskLines(w, job).length;
    await new Promise((res) => setTimeout(res, 3000));
    expect(taskLines(w, job).length).toBe(after);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(root).filter((f) => f.startsWith('.out-cancel'))).toEqual([]);
  });
});
