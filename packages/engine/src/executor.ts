import type { Task, TaskResult } from '@tessera/protocol/task';

/**
 * Runs tasks somewhere: threads of this process (EmbeddedExecutor) or remote workers. The
 * scheduler only submits descriptors and awaits results; every executor runs the same task code.
 */
export interface Executor {
  /** how many tasks it runs at once (the scheduler keeps about twice that in flight) */
  readonly concurrency: number;
  run(task: Task, signal?: AbortSignal): Promise<TaskResult>;
  close(): Promise<void>;
}
