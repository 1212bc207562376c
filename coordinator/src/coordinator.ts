// The coordinator service: NATS topology, job store, worker registry, gRPC, and the resume of
// unfinished jobs at start.
import { jetstream } from '@nats-io/jetstream';
import {
  JOB_BUCKET,
  type NatsOptions,
  POOLS,
  type Pool,
  TASK_STREAM,
  WORKER_BUCKET,
  poolConsumer,
  connectNats,
  ensureTopology,
  keyLister,
  openBucket,
  watchConnected,
} from '@tessera/protocol';
import { type ExtraService, type GrpcOptions, startGrpc } from './grpc-server.js';
import { JobStore } from './job-store.js';
import { JobManager, type Log } from './jobs.js';
import { WorkerRegistry } from './workers.js';

export interface CoordinatorOptions extends NatsOptions {
  grpc: GrpcOptions;
  /** tasks in flight per job (default 64) */
  concurrency?: number;
  /** local folders recipes may read and write (default: anywhere) */
  roots?: string[];
  log?: Log;
  /** more services on the gRPC server (the planner's) */
  services?: ExtraService[];
}

export interface RunningCoordinator {
  port: number;
  jobs: JobManager;
  workers: WorkerRegistry;
  /** for readiness: connected to NATS (not reconnecting), and not stopping */
  state(): { connected: boolean; stopping: boolean };
  /**
   * Stops taking calls (those in progress get `graceMs`, then are cut); running jobs stop where
   * they are, left to resume at the next start.
   */
  stop(graceMs?: number): Promise<void>;
  /** work waiting in each pool's queue: tasks not yet delivered plus delivered but not acknowledged */
  backlog(): Promise<Record<Pool, number>>;
}

export async function startCoordinator(opts: CoordinatorOptions): Promise<RunningCoordinator> {
  const log = opts.log ?? (() => undefined);
  const nc = await connectNats({ ...opts, name: 'tessera-coordinator' });
  const jsm = await ensureTopology(nc);
  const js = jetstream(nc);
  const store = new JobStore(await openBucket(nc, JOB_BUCKET), keyLister(jsm, JOB_BUCKET));
  const workers = new WorkerRegistry(await openBucket(nc, WORKER_BUCKET), keyLister(jsm, WORKER_BUCKET));
  workers.startExpiry();
  const jobs = new JobManager(js, jsm, store, workers, log, opts.concurrency, opts.roots);
  // the connection's state, for readiness: a reconnecting coordinator schedules nothing
  const link = watchConnected(nc);
  let stopping = false;
  const { server, port } = await startGrpc(opts.grpc, { jobs, workers }, opts.services ?? []);
  log({ event: 'listening', port });
  await jobs.resumeAll();
  return {
    port,
    jobs,
    workers,
    state: () => ({ connected: link.connected(), stopping }),
    async backlog() {
      const out = {} as Record<Pool, number>;
      for (const pool of POOLS) {
        const info = await jsm.consumers.info(TASK_STREAM, poolConsumer(pool));
        out[pool] = info.num_pending + info.num_ack_pending;
      }
      return out;
    },
    async stop(graceMs = 5000) {
      stopping = true;
      workers.stop();
      // calls in progress (a --watch stream) get the grace period, then are cut
      const cut = setTimeout(() => server.forceShutdown(), graceMs);
      await new Promise<void>((r) => server.tryShutdown(() => r()));
      clearTimeout(cut);
      jobs.detach();
      await nc.drain().catch(() => undefined);
    },
  };
}
