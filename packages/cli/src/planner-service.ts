// The PlannerService as a gRPC service of the shared server: `tessera planner serve` serves it
// alone, the coordinator beside MergeService. The bandit's state lives in a file, or (with NATS)
// in the JetStream KV bucket tessera-planner.
import type { ExtraService } from '@tessera/coordinator';
import type { Executor } from '@tessera/engine';
import { Bandit, type BanditStore, DEFAULT_MANY_PREDICTOR, DEFAULT_PREDICTOR, fileBanditStore, openPredictor, plannerHandlers } from '@tessera/planner';
import { PLANNER_BUCKET, PLANNER_PROTO, openBucket, plannerServiceClient } from '@tessera/protocol';
import type { NatsConnection } from '@nats-io/transport-node';

/** The bandit's state in JetStream KV (one key), for every planner of a deployment. */
async function kvBanditStore(nc: NatsConnection): Promise<BanditStore> {
  const kv = await openBucket(nc, PLANNER_BUCKET);
  return {
    async load() {
      const e = await kv.get('bandit');
      return e && e.operation === 'PUT' && e.value.length > 0 ? new Bandit(JSON.parse(new TextDecoder().decode(e.value))) : undefined;
    },
    async save(b) {
      await kv.put('bandit', new TextEncoder().encode(JSON.stringify(b.toJSON())));
    },
  };
}

export async function plannerService(opts: {
  executor: Executor;
  predictor?: string;
  /** a bandit state file (embedded mode) */
  banditFile?: string;
  /** or the NATS connection whose KV keeps it */
  nc?: NatsConnection;
  checkPath?(path: string, what: string): Promise<void>;
}): Promise<{ service: ExtraService; close(): Promise<void> }> {
  const predictor = await openPredictor(opts.predictor ?? DEFAULT_PREDICTOR);
  // the shipped predictors: one for pairs, one for k-way plans; a predictor given serves both
  const manyPredictor = opts.predictor ? undefined : await openPredictor(DEFAULT_MANY_PREDICTOR);
  const bandit = opts.nc ? await kvBanditStore(opts.nc) : fileBanditStore(opts.banditFile ?? 'tessera-bandit.json');
  const handlers = plannerHandlers({
    executor: opts.executor,
    predictor,
    ...(manyPredictor ? { manyPredictor } : {}),
    bandit,
    ...(opts.checkPath ? { checkPath: opts.checkPath } : {}),
  });
  return {
    service: { name: 'tessera.v1.PlannerService', proto: PLANNER_PROTO, definition: plannerServiceClient().service, handlers },
    close: async () => {
      await predictor.close();
      await manyPredictor?.close();
    },
  };
}
