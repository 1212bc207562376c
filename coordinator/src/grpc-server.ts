// MergeService over gRPC: bearer-token auth on every call (health and reflection stay open for
// probes and generic clients), optional TLS.
import { readFileSync } from 'node:fs';
import {
  type Metadata,
  Server,
  type ServiceDefinition,
  ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { type JobEventMsg, type JobMsg, MERGE_PROTO, type SubmitRequestMsg, mergePackageDefinition, mergeServiceClient } from '@tessera/protocol';
import { ERROR_KINDS, errorKind } from '@tessera/tensor';
import { HealthImplementation, protoPath as healthProto } from 'grpc-health-check';
import { loadSync } from '@grpc/proto-loader';
import { type JobManager, jobMessage } from './jobs.js';
import type { WorkerRegistry } from './workers.js';

export interface GrpcOptions {
  /** host:port (port 0 picks one) */
  listen: string;
  /** required bearer token (none: calls are not authenticated) */
  token?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** CA of client certificates (mutual TLS) */
  tlsClientCa?: string;
}

function authorized(metadata: Metadata, token: string | undefined): boolean {
  if (!token) return true;
  const v = metadata.get('authorization')[0];
  return typeof v === 'string' && v === `Bearer ${token}`;
}

function grpcError(e: unknown): { code: status; details: string } {
  const details = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'number') return { code, details };
  return { code: status[ERROR_KINDS[errorKind(e)].grpc], details };
}

/** Another service on the same server (the planner's): unary calls only, with the same auth. */
export interface ExtraService {
  /** full name, e.g. tessera.v1.PlannerService */
  name: string;
  proto: string;
  definition: ServiceDefinition;
  handlers: Record<string, (req: never) => Promise<unknown>>;
}

/** Serves MergeService (when `merge` is given) and `extra` services, with health and reflection. */
export async function startGrpc(
  opts: GrpcOptions,
  merge: { jobs: JobManager; workers: WorkerRegistry } | undefined,
  extra: ExtraService[] = [],
): Promise<{ server: Server; port: number }> {
  const server = new Server();
  const unary =
    <Req, Res>(f: (req: Req) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => {
      if (!authorized(call.metadata, opts.token)) {
        cb({ code: status.UNAUTHENTICATED, details: 'missing or wrong bearer token' });
        return;
      }
      f(call.request).then(
        (r) => cb(null, r),
        (e: unknown) => cb(grpcError(e)),
      );
    };
  for (const x of extra)
    server.addService(x.definition, Object.fromEntries(Object.entries(x.handlers).map(([k, f]) => [k, unary(f as (req: unknown) => Promise<unknown>)])));
  if (merge) addMergeService(server, opts, unary, merge.jobs, merge.workers);
  const health = new HealthImplementation({
    '': 'SERVING',
    ...(merge ? { 'tessera.v1.MergeService': 'SERVING' } : {}),
    ...Object.fromEntries(extra.map((x) => [x.name, 'SERVING'])),
  });
  health.addToServer(server);
  // reflection describes the services (generic clients list them, probes find health)
  new ReflectionService(loadSync([...(merge ? [MERGE_PROTO] : []), ...extra.map((x) => x.proto), healthProto], { keepCase: true })).addToServer(server);
  const creds =
    opts.tlsCert && opts.tlsKey
      ? ServerCredentials.createSsl(
          opts.tlsClientCa ? readFileSync(opts.tlsClientCa) : null,
          [{ cert_chain: readFileSync(opts.tlsCert), private_key: readFileSync(opts.tlsKey) }],
          Boolean(opts.tlsClientCa),
        )
      : ServerCredentials.createInsecure();
  const port = await new Promise<number>((res, rej) => server.bindAsync(opts.listen, creds, (e, p) => (e ? rej(e) : res(p))));
  return { server, port };
}

type Unary = <Req, Res>(f: (req: Req) => Promise<Res>) => (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void;

function addMergeService(server: Server, opts: GrpcOptions, unary: Unary, jobs: JobManager, workers: WorkerRegistry): void {
  const service = mergeServiceClient(mergePackageDefinition()).service;
  const found = (j: Awaited<ReturnType<JobManager['get']>>, id: string): JobMsg => {
    if (!j) throw Object.assign(new Error(`no job ${id}`), { code: status.NOT_FOUND });
    return jobMessage(j);
  };
  server.addService(service, {
    Submit: unary(async (req: SubmitRequestMsg) => {
      const r = await jobs.submit(req);
      return { job_id: r.jobId, warnings: r.warnings };
    }),
    Get: unary(async (req: { job_id: string }) => found(await jobs.get(req.job_id), req.job_id)),
    Cancel: unary(async (req: { job_id: string }) => found(await jobs.cancel(req.job_id), req.job_id)),
    List: unary(async () => ({
      jobs: (await jobs.list()).map(jobMessage),
      workers: (await workers.live()).map((w) => ({
        id: w.id,
        host: w.host,
        pool: w.pool,
        threads: w.threads,
        last_seen: w.ts / 1000,
        tasks_done: w.tasksDone,
      })),
    })),
    Watch: (call: ServerWritableStream<{ job_id: string }, JobEventMsg>) => {
      if (!authorized(call.metadata, opts.token)) {
        call.destroy(Object.assign(new Error('missing or wrong bearer token'), { code: status.UNAUTHENTICATED }));
        return;
      }
      const id = call.request.job_id;
      const ended = (s: string) => s === 'done' || s === 'failed' || s === 'cancelled';
      const off = jobs.watch(id, (e) => {
        call.write(e);
        if (e.type === 'state' && ended(e.state)) {
          off();
          call.end();
        }
      });
      call.on('cancelled', off);
      void jobs.get(id).then((j) => {
        if (!j) {
          off();
          call.destroy(Object.assign(new Error(`no job ${id}`), { code: status.NOT_FOUND }));
          return;
        }
        const m = jobMessage(j);
        call.write({
          job_id: id,
          type: 'state',
          state: m.state,
          phase: m.phase,
          tensors_done: m.tensors_done,
          tensors_total: m.tensors_total,
          bytes_done: m.bytes_done,
          bytes_total: m.bytes_total,
          gbps: 0,
          workers: 0,
          message: m.error,
          time: Date.now() / 1000,
        });
        if (ended(j.state)) {
          off();
          call.end();
        }
      });
    },
  });
}
