// The embedded executor: a piscina pool of worker threads in this process.
import { Piscina } from 'piscina';
import type { Executor } from './executor.js';
import type { Task, TaskFailure, TaskResult } from '@tessera/protocol/task';
import { fromWire } from './wire-error.js';

export class EmbeddedExecutor implements Executor {
  private readonly pool: Piscina<Task, TaskResult | TaskFailure>;

  constructor(readonly concurrency: number) {
    this.pool = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: concurrency,
      maxThreads: concurrency,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
    });
    // A task aborted while it runs still reports when it ends; piscina then emits an error for
    // a result nobody waits for. Nothing is lost: the job has already stopped.
    this.pool.on('error', (e: Error) => {
      if (!/^Unexpected message from Worker/.test(e.message)) throw e;
    });
  }

  async run(task: Task, signal?: AbortSignal): Promise<TaskResult> {
    const r = await this.pool.run(task, signal ? { signal } : {});
    if (r.kind === 'error') throw fromWire(r.error);
    return r;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
