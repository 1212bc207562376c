// Distributed figures: planning a 3-expert merge of a virtual 405B model (time, memory,
// tasks), dispatch/ack throughput of no-op tasks through NATS, and a virtual merge on 1 vs 2
// worker processes (speed-up, and scheduling overhead against the time spent in tasks).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { NatsExecutor } from '@tessera/coordinator';
import { type ResultMessage, TASK_STREAM, connectNats, decodeTask, encodeJson, ensureTopology, jobTasks, poolConsumer, resultSubject } from '@tessera/protocol';
import { tessera } from '../support/cli.js';
import { startNats } from '../support/nats.js';
import { type Service, spawnService } from '../support/services.js';

const recipe = (size: string, op: string) => {
  const m = (k: number) => `synthetic://llama-${size}?seed=1&model=${k}`;
  const params = op === 'ties' ? ', density: 0.2' : '';
  return `merge_method: ${op}\nbase_model: ${m(0)}\nmodels:\n${[1, 2, 3].map((k) => `  - {model: ${m(k)}, parameters: {weight: 1${params}}}`).join('\n')}\n`;
};

/** Plans a recipe file in a child process: planning time, peak RSS, tensors, merge tasks, input. */
export function planInChild(file: string): { seconds: number; rssMiB: number; tensors: number; mergeTasks: number; inputTB: number } {
  const script = `
    const { planRecipe } = await import(${JSON.stringify(new URL('../../packages/engine/dist/index.js', import.meta.url).href)});
    const { loadRecipe } = await import(${JSON.stringify(new URL('../../packages/recipe/dist/index.js', import.meta.url).href)});
    const t = performance.now();
    const plan = await planRecipe(loadRecipe(${JSON.stringify(file)})[0]);
    const seconds = (performance.now() - t) / 1000;
    const merge = plan.tensors.reduce((s, x) => s + x.context.slices.length, 0);
    console.log(JSON.stringify({ seconds, rssMiB: process.resourceUsage().maxRSS / 1024, tensors: plan.tensors.length, mergeTasks: merge, inputTB: plan.inputBytes / 1e12 }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim()) as ReturnType<typeof planInChild>;
}

/** Plans a 3-expert TIES merge of a virtual 405B model: time, memory, tasks (two stats passes per merge slice). */
export function plan405b(): ReturnType<typeof planInChild> & { statsTasks: number } {
  const file = join(tmpdir(), `tessera-405b-${process.pid}.yaml`);
  writeFileSync(file, recipe('405b', 'ties'));
  const p = planInChild(file);
  return { ...p, statsTasks: 2 * p.mergeTasks };
}

async function workers(url: string, n: number): Promise<Service[]> {
  const ws = Array.from({ length: n }, () => spawnService(['worker', '--nats', url, '--threads', '1', '--no-fsync']));
  await Promise.all(ws.map((w) => w.waitFor((l) => l.event === 'started')));
  return ws;
}

/**
 * No-op tasks published and answered through JetStream: tasks per second, with 2 worker
 * processes, or (`responder`) with a minimal in-process consumer that answers each task at once
 * (the coordinator's side of the path alone).
 */
export async function dispatchRate(count = 20_000, responder = false): Promise<{ tasks: number; seconds: number; perSecond: number }> {
  const nats = await startNats();
  const ws = responder ? [] : await workers(nats.url, 2);
  const nc = await connectNats({ url: nats.url });
  const jsm = await ensureTopology(nc);
  const stopResponder = responder ? await respond(nc) : undefined;
  const job = `bench${randomBytes(3).toString('hex')}`;
  const exec = new NatsExecutor(jetstream(nc), jsm, job, 1, 512);
  await exec.start();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 512 }, async () => {
      while (next < count) await exec.run({ kind: 'noop', id: `n${next++}` });
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await jsm.streams.purge(TASK_STREAM, { filter: jobTasks(job) });
  await exec.close(true);
  await stopResponder?.();
  await nc.drain();
  await Promise.all(ws.map((w) => w.kill()));
  await nats.stop();
  return { tasks: count, seconds, perSecond: count / seconds };
}

/** Answers every task on the cpu pool's consumer with an empty result. */
async function respond(nc: Awaited<ReturnType<typeof connectNats>>): Promise<() => Promise<void>> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(TASK_STREAM, poolConsumer('cpu'));
  const messages = await consumer.consume({ max_messages: 1000 });
  const loop = (async () => {
    for await (const m of messages) {
      const t = decodeTask(m.data);
      void js.publish(
        resultSubject(t.jobId),
        encodeJson({ jobId: t.jobId, taskId: t.task.id, worker: 'bench', delivery: 1, ms: 0, outcome: { kind: 'noop' }, final: true } satisfies ResultMessage),
      );
      m.ack();
    }
  })();
  return async () => {
    await messages.close();
    await loop;
  };
}

/** A virtual merge to null:// on n worker processes (1 thread each). */
export async function virtualMerge(size: string, n: number): Promise<{ seconds: number; inputGB: number; taskSeconds: number; digest: string }> {
  const nats = await startNats();
  const ws = await workers(nats.url, n);
  const file = join(tmpdir(), `tessera-virtual-${size}.yaml`);
  writeFileSync(file, recipe(size, 'task_arithmetic'));
  const r = await tessera(['merge', file, '--out', 'null://', '--nats', nats.url, '--json'], { timeoutMs: 1_800_000 });
  const done = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; seconds: number; inputBytes: number; digest: string })
    .find((e) => e.type === 'done');
  if (!done) throw new Error(`virtual merge failed: ${r.stderr}`);
  const taskSeconds = ws.reduce((s, w) => s + w.lines.filter((l) => l.event === 'task').reduce((a, l) => a + Number(l.runMs), 0), 0) / 1000;
  await Promise.all(ws.map((w) => w.kill()));
  await nats.stop();
  return { seconds: done.seconds, inputGB: done.inputBytes / 1e9, taskSeconds, digest: done.digest };
}
