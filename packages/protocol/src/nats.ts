// Connecting to NATS and the JetStream topology every Tessera service relies on: created when
// missing (idempotent), so coordinators and workers can start in any order.
import { readFileSync } from 'node:fs';
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { KV } from '@nats-io/kv';
import { credsAuthenticator, connect, nanos } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  ACK_WAIT_MS,
  type JOB_BUCKET,
  MAX_DELIVER,
  type PLANNER_BUCKET,
  POOLS,
  RESULT_STREAM,
  TASK_STREAM,
  type WORKER_BUCKET,
  poolConsumer,
  poolFilter,
  resultSubject,
} from './subjects.js';

export interface NatsOptions {
  /** nats://host:port (comma-separated for several) */
  url: string;
  /** a .creds file (JWT + nkey) */
  creds?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** TLS: CA bundle, client certificate and key files */
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  name?: string;
}

/**
 * Follows a connection's state for readiness: `connected()` is false from a disconnect until the
 * reconnect; `done` settles when the connection closes.
 */
export function watchConnected(nc: NatsConnection): { connected: () => boolean; done: Promise<void> } {
  let connected = true;
  const done = (async () => {
    for await (const st of nc.status()) {
      if (st.type === 'disconnect') connected = false;
      else if (st.type === 'reconnect') connected = true;
    }
  })();
  return { connected: () => connected, done };
}

export async function connectNats(o: NatsOptions): Promise<NatsConnection> {
  const tls =
    o.tlsCa || o.tlsCert
      ? {
          ...(o.tlsCa ? { ca: readFileSync(o.tlsCa, 'utf8') } : {}),
          ...(o.tlsCert ? { cert: readFileSync(o.tlsCert, 'utf8') } : {}),
          ...(o.tlsKey ? { key: readFileSync(o.tlsKey, 'utf8') } : {}),
        }
      : undefined;
  return connect({
    servers: o.url.split(','),
    ...(o.name ? { name: o.name } : {}),
    ...(o.user ? { user: o.user, pass: o.pass ?? '' } : {}),
    ...(o.token ? { token: o.token } : {}),
    ...(o.creds ? { authenticator: credsAuthenticator(readFileSync(o.creds)) } : {}),
    ...(tls ? { tls } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
}

async function ensureStream(jsm: JetStreamManager, name: string, config: Parameters<JetStreamManager['streams']['add']>[0]): Promise<void> {
  try {
    await jsm.streams.info(name);
  } catch {
    await jsm.streams.add(config).catch(async (e: unknown) => {
      // another service created it meanwhile
      await jsm.streams.info(name).catch(() => {
        throw e;
      });
    });
  }
}

/** The task and result streams, the pools' shared pull consumers. */
export async function ensureTopology(nc: NatsConnection): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, TASK_STREAM, {
    name: TASK_STREAM,
    subjects: ['tessera.tasks.>'],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(120_000),
  });
  await ensureStream(jsm, RESULT_STREAM, {
    name: RESULT_STREAM,
    subjects: ['tessera.results.>'],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(7 * 24 * 3600 * 1000),
    duplicate_window: nanos(120_000),
  });
  for (const pool of POOLS) {
    const name = poolConsumer(pool);
    await jsm.consumers.info(TASK_STREAM, name).catch(() =>
      jsm.consumers
        .add(TASK_STREAM, {
          durable_name: name,
          filter_subject: poolFilter(pool),
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(ACK_WAIT_MS),
          max_deliver: MAX_DELIVER,
          max_ack_pending: 10_000,
        })
        .catch(() => jsm.consumers.info(TASK_STREAM, name)),
    );
  }
  return jsm;
}

/** The durable consumer of one job's results (created when missing; it remembers what was applied). */
export async function ensureResultConsumer(jsm: JetStreamManager, jobId: string): Promise<string> {
  const name = `results-${jobId}`;
  await jsm.consumers.info(RESULT_STREAM, name).catch(() =>
    jsm.consumers.add(RESULT_STREAM, {
      durable_name: name,
      filter_subject: resultSubject(jobId),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(60_000),
      max_ack_pending: 100_000,
    }),
  );
  return name;
}

export async function openBucket(nc: NatsConnection, name: typeof JOB_BUCKET | typeof WORKER_BUCKET | typeof PLANNER_BUCKET): Promise<KV> {
  const kvm = new Kvm(nc);
  // create() opens an existing bucket as it is (and creates a missing one)
  return kvm.create(name, { history: 1, storage: StorageType.File });
}

/** The keys of a bucket that match a filter (deleted ones included: their entries say so). */
export type KeyLister = (filter?: string) => Promise<string[]>;

/**
 * Lists keys from the subjects of the bucket's stream, in one request. The client's KV.keys()
 * ends only once no entry changes for a heartbeat, which never happens while a running job
 * saves its progress several times a second.
 */
export function keyLister(jsm: JetStreamManager, bucket: typeof JOB_BUCKET | typeof WORKER_BUCKET): KeyLister {
  const prefix = `$KV.${bucket}.`;
  return async (filter = '>') => {
    const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: prefix + filter });
    return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length));
  };
}
