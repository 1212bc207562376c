// Names on NATS: the work-queue stream of tasks, the stream of results, the KV buckets.

/** Work-queue stream of task descriptors. */
export const TASK_STREAM = 'TESSERA_TASKS';
/** Stream of task results (small: checksums, partial reductions, timings). */
export const RESULT_STREAM = 'TESSERA_RESULTS';
/** Job specs and progress (KV). */
export const JOB_BUCKET = 'tessera-jobs';
/** Worker heartbeats (KV; entries older than the heartbeat timeout are dead workers). */
export const WORKER_BUCKET = 'tessera-workers';
/** The planner's state (its bandit), one key. */
export const PLANNER_BUCKET = 'tessera-planner';

export type Pool = 'cpu' | 'gpu';
export const POOLS: readonly Pool[] = ['cpu', 'gpu'];

/** Tasks of one job, one phase, one worker pool. */
export function taskSubject(jobId: string, phase: string, pool: Pool): string {
  return `tessera.tasks.${jobId}.${phase}.${pool}`;
}

export function jobTasks(jobId: string): string {
  return `tessera.tasks.${jobId}.>`;
}

export function poolFilter(pool: Pool): string {
  return `tessera.tasks.*.*.${pool}`;
}

/** The durable pull consumer a pool's workers share. */
export function poolConsumer(pool: Pool): string {
  return `tessera-workers-${pool}`;
}

export function resultSubject(jobId: string): string {
  return `tessera.results.${jobId}`;
}

export const HEARTBEAT_INTERVAL_MS = 2000;
export const HEARTBEAT_TIMEOUT_MS = 10_000;
/** Deliveries of a task before its job fails. */
export const MAX_DELIVER = 3;
/**
 * How long a worker holds a task without an in-progress ack before it is redelivered (the
 * consumer's setting when Tessera creates it; TESSERA_ACK_WAIT_MS overrides it, e.g. for tests).
 */
export const ACK_WAIT_MS = Number(process.env.TESSERA_ACK_WAIT_MS ?? 30_000);
