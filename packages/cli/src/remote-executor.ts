// `tessera merge --nats` (and activations, aim): an inline coordinator, the tasks run on remote
// workers; model tasks go to gpu workers when there are any.
import { randomBytes } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { NatsExecutor, WorkerRegistry, modelTaskPool } from '@tessera/coordinator';
import { EmbeddedExecutor, type Executor } from '@tessera/engine';
import { availableParallelism } from 'node:os';
import { type NatsFlags, natsConnection } from './nats-options.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { type NatsOptions, TASK_STREAM, WORKER_BUCKET, connectNats, ensureTopology, jobTasks, keyLister, openBucket } from '@tessera/protocol';

export async function remoteExecutor(o: NatsOptions): Promise<{ executor: Executor; nc: NatsConnection; close(): Promise<void> }> {
  const nc = await connectNats({ ...o, name: 'tessera-merge' });
  const jsm = await ensureTopology(nc);
  const jobId = `m${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const poolOf = await modelTaskPool(new WorkerRegistry(await openBucket(nc, WORKER_BUCKET), keyLister(jsm, WORKER_BUCKET)));
  const executor = new NatsExecutor(jetstream(nc), jsm, jobId, 1, 64, { poolOf });
  await executor.start();
  return {
    executor,
    nc,
    async close() {
      await jsm.streams.purge(TASK_STREAM, { filter: jobTasks(jobId) }).catch(() => undefined);
      await executor.close(true);
      await nc.drain();
    },
  };
}

/** The executor of a command: NATS workers with --nats, else `workers` threads of this process (default: the CPUs). */
export async function commandExecutor(flags: NatsFlags, workers?: number): Promise<{ executor: Executor; close(): Promise<void> }> {
  if (flags.nats) return remoteExecutor(natsConnection(flags));
  const executor = new EmbeddedExecutor(workers ?? availableParallelism());
  return { executor, close: () => executor.close() };
}
