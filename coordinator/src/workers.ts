// Live workers, from their heartbeats in KV; entries past the timeout are removed.
import type { KV } from '@nats-io/kv';
import { HEARTBEAT_TIMEOUT_MS, type KeyLister } from '@tessera/protocol';

export interface WorkerEntry {
  id: string;
  host: string;
  pool: string;
  threads: number;
  ts: number;
  tasksDone: number;
  /** tasks held at the last heartbeat */
  inHand?: number;
}

export class WorkerRegistry {
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly kv: KV,
    private readonly keys: KeyLister,
  ) {}

  async live(): Promise<WorkerEntry[]> {
    const out: WorkerEntry[] = [];
    const now = Date.now();
    for (const key of await this.keys()) {
      const e = await this.kv.get(key);
      if (e?.operation !== 'PUT' || e.value.length === 0) continue;
      const w = JSON.parse(new TextDecoder().decode(e.value)) as WorkerEntry;
      if (now - w.ts <= HEARTBEAT_TIMEOUT_MS) out.push(w);
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Removes the entries of workers whose heartbeat stopped (NATS 2.9 has no per-key TTL). */
  startExpiry(): void {
    this.timer = setInterval(() => {
      void this.expire().catch(() => undefined);
    }, HEARTBEAT_TIMEOUT_MS / 2);
  }

  private async expire(): Promise<void> {
    const now = Date.now();
    for (const key of await this.keys()) {
      const e = await this.kv.get(key);
      if (e?.operation !== 'PUT' || e.value.length === 0) continue;
      const w = JSON.parse(new TextDecoder().decode(e.value)) as WorkerEntry;
      if (now - w.ts > HEARTBEAT_TIMEOUT_MS) await this.kv.delete(key).catch(() => undefined);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
