// Task ids are unique within one document of a recipe; a multi-document recipe runs several
// documents as one job on one executor. Prefixing every id with the document's position keeps
// their tasks and results apart on the wire (message ids, result replay after a resume).
import type { Executor } from './executor.js';
import type { Task, TaskResult } from '@tessera/protocol/task';

export function scopedExecutor(exec: Executor, scope: string): Executor {
  return {
    get concurrency() {
      return exec.concurrency;
    },
    run: (task: Task, signal?: AbortSignal): Promise<TaskResult> => exec.run({ ...task, id: `${scope}:${task.id}` }, signal),
    // the scope does not own the executor
    close: async () => undefined,
  };
}
