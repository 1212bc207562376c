// Where model tasks (activation statistics) go: to the gpu pool when a live worker advertises a
// GPU, else to any (cpu) worker. Merge tasks always go to the cpu pool.
import type { Task } from '@tessera/engine';
import type { Pool } from '@tessera/protocol';
import type { WorkerRegistry } from './workers.js';

export async function modelTaskPool(workers: WorkerRegistry): Promise<(task: Task) => Pool> {
  const gpu = (await workers.live()).some((w) => w.pool === 'gpu');
  return (task) => (task.kind === 'activations' && gpu ? 'gpu' : 'cpu');
}
