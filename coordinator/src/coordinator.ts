// The coordinator service: NATS topology, job store, worker registry, gRPC, and the resume of
// unfinished jobs at start.
import { jetstream } from '@nats-io/jetstream';
import { JOB_BUCKET, type NatsOptions, WORKER_BUCKET, connectNats, ensureTopology, openBucket, watchConnected } from '@tessera/protocol';
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
  /** stops serving; jobs in flight are left to resume at the next start */
  stop(): Promise<void>;
}

export async function startCoordinator(opts: CoordinatorOptions): Promise<RunningCoordinator> {
  const log = opts.log ?? (() => undefined);
  const nc = await connectNats({ ...opts, name: 'tessera-coordinator' });
  const jsm = await ensureTopology(nc);
  const js = jetstream(nc);
  const store = new JobStore(await openBucket(nc, JOB_BUCKET));
  const workers = new WorkerRegistry(await openBucket(nc, WORKER_BUCKET));
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
    async stop() {
      stopping = true;
      workers.stop();
      await new Promise<void>((r) => server.tryShutdown(() => r()));
      await nc.drain().catch(() => undefined);
    },
  };
}
