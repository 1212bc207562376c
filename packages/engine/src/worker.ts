// The piscina worker module of the embedded executor: one TaskRunner per thread.
import type { Task, TaskFailure, TaskResult } from '@tessera/protocol/task';
import { TaskRunner } from './task-runner.js';
import { toWire } from './wire-error.js';

const runner = new TaskRunner();

export default async function run(task: Task): Promise<TaskResult | TaskFailure> {
  const started = performance.now();
  try {
    const r = await runner.run(task);
    return { ...r, ms: performance.now() - started };
  } catch (e) {
    return { kind: 'error', error: toWire(e) };
  }
}
