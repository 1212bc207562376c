// A worker's registration: a KV entry with a timestamp, refreshed every few seconds. The
// coordinator treats an entry older than the timeout as a dead worker (NATS 2.9 has no per-key TTL).
import type { KV } from '@nats-io/kv';
import { HEARTBEAT_INTERVAL_MS } from '@tessera/protocol';

export interface WorkerInfo {
  id: string;
  host: string;
  pool: string;
  device: string;
  threads: number;
  /** ms since the epoch */
  ts: number;
  tasksDone: number;
  /** tasks held now (its load) */
  inHand: number;
}

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly kv: KV,
    private readonly info: () => WorkerInfo,
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      void this.beat().catch(() => undefined);
    }, HEARTBEAT_INTERVAL_MS);
  }

  private async beat(): Promise<void> {
    const info = { ...this.info(), ts: Date.now() };
    await this.kv.put(info.id, JSON.stringify(info));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.kv.delete(this.info().id).catch(() => undefined);
  }
}
