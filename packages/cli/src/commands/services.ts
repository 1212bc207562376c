// `tessera worker` and `tessera coordinator`: the long-running services, logging JSON lines.
import { confineInput, startCoordinator } from '@tessera/coordinator';
import { plannerService } from '../planner-service.js';
import { remoteExecutor } from '../remote-executor.js';
import { startWorker } from '@tessera/shard-worker';
import type { Command } from 'commander';
import { serviceLogger } from '../service-log.js';
import { natsConnection, natsOptions, type NatsFlags } from '../nats-options.js';
import { deviceOption, nonNegativeInt, positiveInt } from '../options.js';
import { UsageError } from '../exit.js';
import { type Io, run } from '../run.js';
import { StatusFeed } from '../status-feed.js';
import { serveStatus } from '../status-http.js';
import { statusRoutes } from '../status-page.js';
import { workerMetrics } from '../worker-metrics.js';
import { coordinatorMetrics } from '../coordinator-metrics.js';
import { type GrpcServerFlags, grpcOptionsOf, grpcServerOptions } from '../grpc-server-options.js';

/** Resolves on SIGINT or SIGTERM. */
function terminated(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
}

export function workerCommand(program: Command, io: Io): void {
  natsOptions(program.command('worker').description('run a shard-worker: pull merge tasks from NATS JetStream and run them'), true)
    .option('-t, --threads <n>', 'worker threads', positiveInt, 2)
    .option('--pool <pool>', 'worker pool (cpu or gpu; default gpu with --device cuda)')
    .option('--device <device>', "where model tasks run: cpu, or cuda (onnxruntime's CUDA provider)", deviceOption, 'cpu')
    .option('--no-fsync', 'do not flush outputs before acknowledging tasks')
    .option(
      '--grace-seconds <s>',
      'on SIGTERM: time to finish the tasks in hand before handing them back (keep under the pod grace period)',
      nonNegativeInt,
      60,
    )
    .option('--http <host:port>', 'serve /healthz, /readyz and /metrics (Prometheus) here (port 0: any free port, logged)')
    .option('--debug', 'print stack traces')
    .action(
      async (
        flags: NatsFlags & { threads: number; pool?: string; device: 'cpu' | 'cuda'; fsync: boolean; graceSeconds: number; http?: string; debug?: boolean },
      ) => {
        const logger = serviceLogger('tessera-worker');
        io.exitCode = await run(io, flags, async () => {
          const pool = flags.pool ?? (flags.device === 'cuda' ? 'gpu' : 'cpu');
          if (pool !== 'cpu' && pool !== 'gpu') throw new UsageError(`--pool must be cpu or gpu, got ${pool}`);
          if (flags.device === 'cuda') await (await import('@tessera/model')).checkCuda();
          let metrics: ReturnType<typeof workerMetrics> | undefined;
          const w = await startWorker({
            ...natsConnection(flags),
            threads: flags.threads,
            pool,
            device: flags.device,
            fsync: flags.fsync,
            log: (l) => {
              metrics?.observe(l);
              logger.info(l);
            },
          });
          let http: Awaited<ReturnType<typeof serveStatus>> | undefined;
          if (flags.http) {
            metrics = workerMetrics(w.state);
            http = await serveStatus(
              flags.http,
              () => {
                const st = w.state();
                return { ready: st.ready, detail: { connected: st.connected, stopping: st.stopping, inHand: st.inHand } };
              },
              metrics.registry,
            );
            logger.info({ event: 'http', port: http.port });
          }
          const signal = await Promise.race([terminated(), w.done.then(() => 'done')]);
          logger.info({ event: 'signal', signal });
          await w.stop(flags.graceSeconds * 1000);
          http?.server.close();
        });
      },
    );
}

export function coordinatorCommand(program: Command, io: Io): void {
  grpcServerOptions(
    natsOptions(
      program.command('coordinator').description('run the coordinator: the gRPC MergeService and PlannerService, scheduling over NATS JetStream'),
      true,
    ),
  )
    .option('--concurrency <n>', 'tasks in flight per job', positiveInt, 64)
    .option('--root <dir>', 'confine recipe models and outputs to this folder (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option(
      '--http <host:port>',
      'serve /healthz, /readyz, /metrics (Prometheus) and the status page (/, /status, /events; behind the token) here (port 0: any free port, logged)',
    )
    .option('--debug', 'print stack traces')
    .action(
      async (
        flags: NatsFlags &
          GrpcServerFlags & {
            concurrency: number;
            root: string[];
            http?: string;
            debug?: boolean;
          },
      ) => {
        const logger = serviceLogger('tessera-coordinator');
        io.exitCode = await run(io, flags, async () => {
          const token = flags.token ?? process.env.TESSERA_TOKEN;
          // the planner beside MergeService: its signals run on the workers, its bandit lives in KV
          const remote = await remoteExecutor(natsConnection(flags));
          const planner = await plannerService({
            executor: remote.executor,
            nc: remote.nc,
            ...(flags.root.length > 0 ? { checkPath: (path: string, what: string) => confineInput(flags.root, path, what) } : {}),
          });
          let metrics: ReturnType<typeof coordinatorMetrics> | undefined;
          const c = await startCoordinator({
            services: [planner.service],
            ...natsConnection(flags),
            concurrency: flags.concurrency,
            roots: flags.root,
            log: (l) => {
              metrics?.observe(l);
              logger.info(l);
            },
            grpc: grpcOptionsOf(flags),
          });
          let http: Awaited<ReturnType<typeof serveStatus>> | undefined;
          let feed: StatusFeed | undefined;
          if (flags.http) {
            metrics = coordinatorMetrics(c);
            feed = new StatusFeed(c);
            feed.start();
            http = await serveStatus(
              flags.http,
              () => {
                const st = c.state();
                return { ready: st.connected && !st.stopping, detail: st };
              },
              metrics.registry,
              statusRoutes(feed, token),
            );
            logger.info({ event: 'http', port: http.port });
          }
          if (!token) logger.warn({ event: 'no-token', message: 'gRPC calls are not authenticated (set --token or TESSERA_TOKEN)' });
          io.stdout.write(`${JSON.stringify({ event: 'ready', port: c.port })}\n`);
          logger.info({ event: 'signal', signal: await terminated() });
          feed?.stop();
          await c.stop();
          http?.server.closeAllConnections();
          http?.server.close();
          await planner.close();
          await remote.close();
        });
      },
    );
}
