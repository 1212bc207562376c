// Jobs in JetStream KV: the spec (recipe and options), the state and phase, progress counters,
// and the tasks finished so far, so that a restarted coordinator resumes without redoing them.
import type { KV } from '@nats-io/kv';
import type { JobOptions } from '@tessera/engine';
import { type KeyLister, withRetry } from '@tessera/protocol';

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobRecord {
  id: string;
  state: JobState;
  phase: string;
  recipe: string;
  recipeDir: string;
  output: string;
  options: JobOptions;
  createdAt: number;
  updatedAt: number;
  tensorsDone: number;
  tensorsTotal: number;
  bytesDone: number;
  bytesTotal: number;
  redeliveries: number;
  error: string;
  /** incremented at every (re)start of the job */
  epoch: number;
}

const enc = new TextEncoder(),
  dec = new TextDecoder();

export class JobStore {
  constructor(
    private readonly kv: KV,
    private readonly keys: KeyLister,
  ) {}

  async put(job: JobRecord): Promise<void> {
    await withRetry(() => this.kv.put(`job.${job.id}`, enc.encode(JSON.stringify({ ...job, updatedAt: Date.now() }))));
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const e = await this.kv.get(`job.${id}`);
    return e && e.operation === 'PUT' && e.value.length > 0 ? (JSON.parse(dec.decode(e.value)) as JobRecord) : undefined;
  }

  async list(): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    for (const key of await this.keys('job.*')) {
      const j = await this.get(key.slice(4));
      if (j) out.push(j);
    }
    return out.sort((a, b) => b.createdAt - a.createdAt);
  }

  /** Finished tasks of a job, by scope (document), as stored. */
  async done(id: string): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    for (const key of await this.keys(`done.${id}.>`)) {
      const e = await this.kv.get(key);
      if (e?.operation !== 'PUT' || e.value.length === 0) continue;
      const { scope, tasks } = JSON.parse(dec.decode(e.value)) as { scope: string; tasks: string[] };
      const set = out.get(scope) ?? new Set<string>();
      for (const t of tasks) set.add(t);
      out.set(scope, set);
    }
    return out;
  }

  /** Records finished tasks; one key per (scope, tensor) keeps values small. */
  async markDone(id: string, scope: string, group: string, tasks: string[]): Promise<void> {
    const key = `done.${id}.${Buffer.from(scope || '_').toString('hex')}.${group.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    await withRetry(() => this.kv.put(key, enc.encode(JSON.stringify({ scope, tasks }))));
  }

  /**
   * Announces that a job has ended (done, failed or cancelled): workers watch `ended.*` and drop
   * or abort the tasks of that job they still hold.
   */
  async markEnded(id: string, state: JobState): Promise<void> {
    await withRetry(() => this.kv.put(`ended.${id}`, enc.encode(state)), { attempts: 5 });
  }

  async forget(id: string): Promise<void> {
    for (const key of await this.keys(`done.${id}.>`)) await this.kv.purge(key).catch(() => undefined);
  }
}
