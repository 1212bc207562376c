// The shard-worker: pulls task descriptors from its pool's durable consumer, runs them on a
// piscina pool (the same task code as embedded mode), keeps long tasks alive with in-progress
// acks, writes (and flushes) the output before it reports the result and acks, and on a
// failure naks for a retry or, at the last delivery or for an error that is not retryable
// (bad input), reports the error as final. Tasks of a job
// that has ended (cancelled, failed) are dropped, and aborted if they are already running.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type JsMsg, jetstream } from '@nats-io/jetstream';
import { syncFile } from '@tessera/checkpoint';
import { ERROR_KINDS } from '@tessera/tensor';
import { EmbeddedExecutor, type Task, type TaskResult, toWire } from '@tessera/engine';
import {
  ACK_WAIT_MS,
  JOB_BUCKET,
  MAX_DELIVER,
  type NatsOptions,
  type Pool,
  type ResultMessage,
  TASK_STREAM,
  type TaskMessage,
  WORKER_BUCKET,
  connectNats,
  watchConnected,
  decodeTask,
  encodeJson,
  ensureTopology,
  openBucket,
  poolConsumer,
  resultSubject,
  withRetry,
} from '@tessera/protocol';
import { Heartbeat } from './heartbeat.js';

export interface WorkerOptions extends NatsOptions {
  threads: number;
  pool?: Pool;
  /** where model tasks run (activation statistics): onnxruntime's CPU or CUDA provider */
  device?: 'cpu' | 'cuda';
  /** flush written outputs before acknowledging (default true) */
  fsync?: boolean;
  id?: string;
  log?: (line: Record<string, unknown>) => void;
}

export interface RunningWorker {
  id: string;
  /**
   * Stops pulling, lets the tasks in hand finish within `graceMs`, then aborts and naks (for
   * another worker) what is still running; naks what it had pulled but not started; deregisters.
   */
  stop(graceMs?: number): Promise<void>;
  /** resolves when the worker has stopped */
  done: Promise<void>;
  /** ready to take tasks (connected to NATS, its pool's consumer bound, not stopping), and its load */
  state(): WorkerState;
}

export interface WorkerState {
  ready: boolean;
  connected: boolean;
  stopping: boolean;
  /** tasks held (running or reporting) */
  inHand: number;
  tasksDone: number;
}

export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const pool = opts.pool ?? 'cpu';
  const id = opts.id ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const log = opts.log ?? (() => undefined);
  const nc = await connectNats({ ...opts, name: `tessera-worker ${id}` });
  await ensureTopology(nc);
  const js = jetstream(nc);
  const exec = new EmbeddedExecutor(opts.threads);
  let tasksDone = 0;
  /** tasks held (running, or reporting their result) */
  const inHand = new Set<Promise<void>>();
  // the connection's state, for readiness: a reconnecting worker takes no task
  const link = watchConnected(nc);
  const heartbeat = new Heartbeat(await openBucket(nc, WORKER_BUCKET), () => ({
    id,
    host: hostname(),
    pool,
    device: opts.device ?? 'cpu',
    threads: opts.threads,
    ts: Date.now(),
    tasksDone,
    inHand: inHand.size,
  }));
  await heartbeat.start();

  // jobs that ended, announced by the coordinator in the jobs bucket
  const ended = new Set<string>();
  const running = new Map<string, Set<AbortController>>();
  const endedWatch = await (await openBucket(nc, JOB_BUCKET)).watch({ key: 'ended.*' });
  const watching = (async () => {
    for await (const e of endedWatch) {
      if (e.operation !== 'PUT') continue;
      const job = e.key.slice('ended.'.length);
      ended.add(job);
      for (const c of running.get(job) ?? []) c.abort();
    }
  })();

  const consumer = await js.consumers.get(TASK_STREAM, poolConsumer(pool));
  // pull little ahead: a dead worker's prefetched messages wait out ack_wait
  const messages = await consumer.consume({ max_messages: opts.threads * 4 });
  let stopping: Promise<void> | undefined;
  // past the grace period: tasks still running are aborted and handed back
  let releasing = false;
  // messages held at once (running, or reporting their result): the threads plus a short pipeline
  const held = semaphore(opts.threads * 8);

  const handle = async (m: JsMsg) => {
    const started = performance.now();
    let msg: TaskMessage;
    try {
      msg = decodeTask(m.data);
    } catch (e) {
      log({ event: 'bad-task', error: String(e) });
      m.term();
      return;
    }
    const delivery = m.info.deliveryCount;
    if (ended.has(msg.jobId)) {
      m.term();
      log({ event: 'task-dropped', job: msg.jobId, task: msg.task.id, why: 'job ended' });
      return;
    }
    const ctrl = new AbortController();
    const mine = running.get(msg.jobId) ?? new Set<AbortController>();
    running.set(msg.jobId, mine.add(ctrl));
    const keepAlive = setInterval(() => m.working(), Math.floor(ACK_WAIT_MS / 3));
    let runMs = 0;
    const report = (outcome: ResultMessage['outcome'], final: boolean) => {
      const body = encodeJson({ jobId: msg.jobId, taskId: msg.task.id, worker: id, delivery, ms: runMs, outcome, final } satisfies ResultMessage);
      return withRetry(() => js.publish(resultSubject(msg.jobId), body, { msgID: `${msg.jobId}:${msg.task.id}:${delivery}:${id}` }));
    };
    try {
      // a no-op task measures the dispatch path: it skips the thread pool
      const task: Task = msg.task.kind === 'activations' && opts.device ? { ...msg.task, device: opts.device } : msg.task;
      const result: TaskResult = task.kind === 'noop' ? { kind: 'noop' } : await exec.run(task, ctrl.signal);
      runMs = result.ms ?? 0;
      if ((opts.fsync ?? true) && outputOf(msg.task)) await syncFile(outputOf(msg.task)!);
      await report(result, true);
      // if the ack is lost (a server restart), the task comes back: rerunning it writes the same bytes
      m.ack();
      tasksDone++;
      log({
        event: 'task',
        job: msg.jobId,
        task: msg.task.id,
        phase: msg.task.kind,
        delivery,
        runMs: Math.round(runMs * 10) / 10,
        ms: Math.round(performance.now() - started),
        bytesRead: 'bytesRead' in result ? result.bytesRead : 0,
        bytesWritten: 'bytesWritten' in result ? result.bytesWritten : 0,
      });
    } catch (e) {
      if (ctrl.signal.aborted && releasing && !ended.has(msg.jobId)) {
        m.nak();
        log({ event: 'task-released', job: msg.jobId, task: msg.task.id, delivery });
        return;
      }
      if (ctrl.signal.aborted) {
        m.term();
        log({ event: 'task-dropped', job: msg.jobId, task: msg.task.id, why: 'job ended' });
        return;
      }
      // an input error fails the same way on every delivery: its job fails at once
      const wire = toWire(e);
      const final = delivery >= MAX_DELIVER || !ERROR_KINDS[wire.kind].retryable;
      log({ event: 'task-failed', job: msg.jobId, task: msg.task.id, delivery, final, error: e instanceof Error ? e.message : String(e) });
      await report({ kind: 'error', error: wire }, final).catch(() => undefined);
      if (final) m.term();
      else m.nak(500 * delivery);
    } finally {
      clearInterval(keepAlive);
      mine.delete(ctrl);
      if (mine.size === 0) running.delete(msg.jobId);
    }
  };

  const loop = (async () => {
    for await (const m of messages) {
      await held.acquire();
      if (stopping) {
        // pulled but not started: straight back to the stream for another worker
        m.nak();
        log({ event: 'task-returned', delivery: m.info.deliveryCount });
        held.release();
        continue;
      }
      const p = handle(m).finally(() => {
        inHand.delete(p);
        held.release();
      });
      inHand.add(p);
    }
  })();

  const stop = (graceMs = 60_000) => {
    stopping ??= (async () => {
      log({ event: 'stopping', inHand: inHand.size, graceMs });
      await messages.close().catch(() => undefined);
      if (!(await within(Promise.all(inHand), graceMs))) {
        releasing = true;
        for (const ctrls of running.values()) for (const c of ctrls) c.abort();
        // a task stuck past its abort (its result not yet published) comes back after ack_wait
        if (!(await within(Promise.all(inHand), 5000))) log({ event: 'stop-abandoned', inHand: inHand.size });
      }
      await heartbeat.stop();
      endedWatch.stop();
      await watching.catch(() => undefined);
      await exec.close();
      await loop.catch(() => undefined);
      if (!(await within(nc.drain(), 5000))) await nc.close().catch(() => undefined);
      await link.done.catch(() => undefined);
      log({ event: 'stopped', tasksDone });
    })();
    return stopping;
  };
  const done = (async () => {
    await loop.catch(() => undefined);
    await (stopping ?? stop());
  })();
  log({ event: 'started', id, pool, device: opts.device ?? 'cpu', threads: opts.threads });
  const state = (): WorkerState => ({
    ready: link.connected() && !stopping,
    connected: link.connected(),
    stopping: stopping !== undefined,
    inHand: inHand.size,
    tasksDone,
  });
  return { id, stop, done, state };
}

/** Whether `p` settles within `ms` (a rejection counts as settled). */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return done;
}

function semaphore(n: number) {
  let free = n;
  const waiters: (() => void)[] = [];
  return {
    acquire: (): Promise<void> => {
      if (free === 0) return new Promise<void>((r) => waiters.push(r));
      free--;
      return Promise.resolve();
    },
    release: () => {
      const w = waiters.shift();
      if (w) w();
      else free++;
    },
  };
}

/** The file a task writes (flushed before the task is acknowledged). */
function outputOf(task: Task): string | undefined {
  return task.kind === 'merge' || task.kind === 'gather' ? task.out.uri : undefined;
}
