// MergeService and PlannerService clients: bearer token on every call, TLS when a CA is given.
import { readFileSync } from 'node:fs';
import { type Client, Metadata, credentials } from '@grpc/grpc-js';
import { mergeServiceClient, plannerServiceClient } from '@tessera/protocol';

export interface ClientFlags {
  server: string;
  token?: string;
  tlsCa?: string;
}

export interface MergeClient {
  call<Res>(method: 'Submit' | 'Get' | 'Cancel' | 'List', req: object): Promise<Res>;
  watch(jobId: string): NodeJS.ReadableStream;
  close(): void;
}

export function mergeClient(f: ClientFlags): MergeClient {
  const Ctor = mergeServiceClient();
  const creds = f.tlsCa ? credentials.createSsl(readFileSync(f.tlsCa)) : credentials.createInsecure();
  const client = new Ctor(f.server, creds) as Client & Record<string, (...a: unknown[]) => unknown>;
  const md = new Metadata();
  const token = f.token ?? process.env.TESSERA_TOKEN;
  if (token) md.set('authorization', `Bearer ${token}`);
  return {
    call: <Res>(method: string, req: object) =>
      new Promise<Res>((resolve, reject) => {
        client[method]!(req, md, { deadline: Date.now() + 60_000 }, (e: Error | null, r: Res) => (e ? reject(e) : resolve(r)));
      }),
    watch: (jobId) => client.Watch!({ job_id: jobId }, md) as NodeJS.ReadableStream,
    close: () => client.close(),
  };
}

/** One PlannerService call (plans run longer than the usual deadline: 10 minutes). */
export function plannerCall<Res>(f: ClientFlags, method: 'Plan' | 'Signals' | 'ReportOutcome' | 'ListCandidates', req: object): Promise<Res> {
  const Ctor = plannerServiceClient();
  const client = new Ctor(f.server, f.tlsCa ? credentials.createSsl(readFileSync(f.tlsCa)) : credentials.createInsecure()) as Client &
    Record<string, (...a: unknown[]) => unknown>;
  const md = new Metadata();
  const token = f.token ?? process.env.TESSERA_TOKEN;
  if (token) md.set('authorization', `Bearer ${token}`);
  return new Promise<Res>((resolve, reject) => {
    client[method]!(req, md, { deadline: Date.now() + 600_000 }, (e: Error | null, r: Res) => {
      client.close();
      if (e) reject(e);
      else resolve(r);
    });
  });
}
