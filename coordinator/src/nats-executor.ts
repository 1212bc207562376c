// The distributed Executor: a task is a message on the work-queue stream (one subject per job,
// phase and pool); its result comes back on the job's result stream, read by a durable consumer
// so that results survive a coordinator restart. Tensor bytes never travel here.
import type { ConsumerMessages, JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { CancelledError, type Executor, type Task, type TaskResult, fromWire } from '@tessera/engine';
import {
  type Pool,
  RESULT_STREAM,
  type ResultMessage,
  decodeJson,
  encodeTask,
  ensureResultConsumer,
  resultSubject,
  taskSubject,
  withRetry,
} from '@tessera/protocol';

export interface ExecutorHooks {
  /** every result delivered (applied before it is acknowledged) */
  onResult?(r: ResultMessage): Promise<void> | void;
  /** the pool a task goes to */
  poolOf?(task: Task): Pool;
}

interface Pending {
  resolve(r: TaskResult): void;
  reject(e: Error): void;
}

export class NatsExecutor implements Executor {
  private readonly pending = new Map<string, Pending>();
  /** final results of tasks nobody waits for yet (a resumed job's earlier tasks) */
  private readonly early = new Map<string, ResultMessage>();
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private frozen = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly jobId: string,
    /** distinguishes the task messages of this run from those of an interrupted earlier one */
    private readonly epoch: number,
    readonly concurrency: number,
    private readonly hooks: ExecutorHooks = {},
  ) {}

  async start(): Promise<void> {
    if (this.epoch > 1) await this.replay();
    const name = await ensureResultConsumer(this.jsm, this.jobId);
    const consumer = await this.js.consumers.get(RESULT_STREAM, name);
    this.messages = await consumer.consume({ max_messages: 256 });
    const messages = this.messages;
    this.loop = (async () => {
      for await (const m of messages) {
        let r: ResultMessage;
        try {
          r = decodeJson<ResultMessage>(m.data);
        } catch {
          m.term();
          continue;
        }
        // frozen: left in the stream for the next coordinator, which replays it
        if (this.frozen) continue;
        await this.hooks.onResult?.(r);
        if (r.final) this.settle(r);
        m.ack();
      }
    })();
  }

  /**
   * A resumed job: the results its earlier runs received (kept in the result stream) answer
   * their tasks again, so that no finished task, stats or merge, runs twice.
   */
  private async replay(): Promise<void> {
    const info = await this.jsm.streams.info(RESULT_STREAM);
    if (info.state.messages === 0) return;
    const consumer = await this.js.consumers.get(RESULT_STREAM, { filter_subjects: resultSubject(this.jobId) });
    const pending = (await consumer.info()).num_pending;
    if (pending === 0) return;
    const messages = await consumer.consume();
    let seen = 0;
    for await (const m of messages) {
      const r = decodeJson<ResultMessage>(m.data);
      if (r.final && r.outcome.kind !== 'error') this.early.set(r.taskId, r);
      if (++seen >= pending) break;
    }
    await messages.close().catch(() => undefined);
  }

  private settle(r: ResultMessage): void {
    const p = this.pending.get(r.taskId);
    if (!p) {
      this.early.set(r.taskId, r);
      return;
    }
    this.pending.delete(r.taskId);
    if (r.outcome.kind === 'error') p.reject(fromWire(r.outcome.error));
    else p.resolve(r.outcome);
  }

  /**
   * The coordinator is shutting down with this job unfinished: no task settles any more, so the
   * job neither completes nor fails here (nor cleans up); the next coordinator resumes it.
   */
  freeze(): void {
    this.frozen = true;
    this.pending.clear();
  }

  run(task: Task, signal?: AbortSignal): Promise<TaskResult> {
    if (this.frozen) return new Promise<TaskResult>(() => undefined);
    const known = this.early.get(task.id);
    if (known) {
      this.early.delete(task.id);
      return known.outcome.kind === 'error' ? Promise.reject(fromWire(known.outcome.error)) : Promise.resolve(known.outcome);
    }
    return new Promise<TaskResult>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new CancelledError());
        return;
      }
      const onAbort = () => {
        this.pending.delete(task.id);
        reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(task.id, {
        resolve: (r) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      const subject = taskSubject(this.jobId, task.kind, this.hooks.poolOf?.(task) ?? 'cpu');
      const body = encodeTask({ jobId: this.jobId, task });
      // the message id makes a retried publish harmless (JetStream drops the duplicate)
      withRetry(() => this.js.publish(subject, body, { msgID: `${this.jobId}:${this.epoch}:${task.id}` }), signal ? { signal } : {}).catch((e: unknown) => {
        this.pending.delete(task.id);
        reject(e instanceof Error ? e : new Error(String(e)));
      });
    });
  }

  /** Stops reading results; with `remove`, deletes the job's result consumer. */
  async close(remove = false): Promise<void> {
    await this.messages?.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
    if (remove) await this.jsm.consumers.delete(RESULT_STREAM, `results-${this.jobId}`).catch(() => undefined);
  }
}
