// The HTTP face of a worker and a coordinator against real processes: /healthz answers, /readyz
// is 200 while the service is connected to NATS and 503 while NATS is away (and 200 again when it
// is back); the worker's /metrics counts the tasks a merge ran on it, the coordinator's the live
// workers and the jobs by state.
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { type NatsServer, startNats } from './support/nats.js';
import { type Service, spawnService } from './support/services.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('health');
let nats: NatsServer;
let worker: Service;
let coordinator: Service;
let base: string;
let coordBase: string;
let grpcPort: number;

beforeAll(async () => {
  nats = await startNats();
  worker = spawnService(['worker', '--nats', nats.url, '--threads', '1', '--no-fsync', '--http', '127.0.0.1:0']);
  const http = await worker.waitFor((l) => l.event === 'http');
  base = `http://127.0.0.1:${http.port}`;
  coordinator = spawnService(['coordinator', '--nats', nats.url, '--grpc', '127.0.0.1:0', '--http', '127.0.0.1:0']);
  coordBase = `http://127.0.0.1:${(await coordinator.waitFor((l) => l.event === 'http')).port}`;
  grpcPort = (await coordinator.waitFor((l) => l.event === 'ready')).port as number;
});

afterAll(async () => {
  await worker.kill('SIGKILL');
  await coordinator.kill('SIGKILL');
  await nats.stop();
});

const get = async (path: string, at = base) => {
  const r = await fetch(`${at}${path}`);
  return { status: r.status, text: await r.text() };
};

/** The value of a metric line in Prometheus text (`name` with its labels, as printed). */
const metric = (text: string, name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1]);

async function until(pred: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('worker health and metrics', () => {
  it('answers /healthz and is ready when connected', async () => {
    expect(await get('/healthz')).toEqual({ status: 200, text: 'ok\n' });
    const r = await get('/readyz');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ ready: true, connected: true, stopping: false });
    expect((await get('/nope')).status).toBe(404);
  });

  it('counts the tasks of a merge it ran', async () => {
    const before = await get('/metrics');
    expect(metric(before.text, 'tessera_worker_tasks_done_total')).toBe(0);
    const m = (k: number) => `synthetic://llama-tiny?model=${k}`;
    const recipe = `${dir}/ta.yaml`;
    writeFileSync(recipe, `merge_method: task_arithmetic\nbase_model: ${m(0)}\nmodels:\n  - {model: ${m(1)}, parameters: {weight: 1}}\n`);
    const r = await tessera(['merge', recipe, '--out', 'null://', '--nats', nats.url, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const tasks = worker.lines.filter((l) => l.event === 'task').length;
    expect(tasks).toBeGreaterThan(0);
    const after = (await get('/metrics')).text;
    expect(after).toMatch(/^# TYPE tessera_worker_task_seconds histogram$/m);
    expect(metric(after, 'tessera_worker_tasks_done_total')).toBe(tasks);
    expect(metric(after, 'tessera_worker_task_seconds_count{phase="merge"}')).toBe(tasks);
    // base and one expert in, one model out, all in the same dtype: twice as many bytes read as written
    const written = metric(after, 'tessera_worker_bytes_written_total');
    expect(written).toBeGreaterThan(3e6);
    expect(metric(after, 'tessera_worker_bytes_read_total')).toBe(2 * written);
    expect(metric(after, 'tessera_worker_tasks_in_flight')).toBe(0);
    expect(metric(after, 'tessera_worker_ready')).toBe(1);
  });
});

describe('coordinator health and metrics', () => {
  it('answers /healthz, is ready, and counts the live workers', async () => {
    expect(await get('/healthz', coordBase)).toEqual({ status: 200, text: 'ok\n' });
    const r = await get('/readyz', coordBase);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ ready: true, connected: true, stopping: false });
    const text = (await get('/metrics', coordBase)).text;
    expect(metric(text, 'tessera_coordinator_workers{pool="cpu"}')).toBe(1);
    expect(metric(text, 'tessera_coordinator_jobs{state="done"}')).toBe(0);
    expect(metric(text, 'tessera_coordinator_ready')).toBe(1);
  });

  it('counts a job submitted over gRPC by its state once it is done', async () => {
    const m = (k: number) => `synthetic://llama-tiny?model=${k}`;
    const recipe = `${dir}/submitted.yaml`;
    writeFileSync(recipe, `merge_method: linear\nmodels:\n  - {model: ${m(0)}, parameters: {weight: 1}}\n  - {model: ${m(1)}, parameters: {weight: 1}}\n`);
    const r = await tessera(['submit', recipe, '-o', `${dir}/submitted-out`, '--server', `127.0.0.1:${grpcPort}`, '--watch']);
    expect(r.code, r.stderr).toBe(0);
    const text = (await get('/metrics', coordBase)).text;
    expect(metric(text, 'tessera_coordinator_jobs{state="done"}')).toBe(1);
    expect(metric(text, 'tessera_coordinator_jobs_ended_total{state="done"}')).toBe(1);
    expect(text).not.toMatch(/^tessera_coordinator_job_bytes_done\{/m);
  });
});

describe('when NATS goes away', () => {
  it('worker and coordinator are not ready, and ready again when it is back', async () => {
    await nats.kill();
    for (const at of [base, coordBase]) {
      await until(async () => (await get('/readyz', at)).status === 503);
      expect(JSON.parse((await get('/readyz', at)).text)).toMatchObject({ ready: false, connected: false });
      expect((await get('/healthz', at)).status).toBe(200);
    }
    await nats.restart();
    for (const at of [base, coordBase]) await until(async () => (await get('/readyz', at)).status === 200);
  });
});
