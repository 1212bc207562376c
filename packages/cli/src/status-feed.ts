// The coordinator's live status, sampled once a second: jobs with their progress (and, for planned
// jobs, the planner's predictions), live workers with their load, each pool's queue backlog,
// merge throughput over the last minutes, and recent errors. The status page and /status read it.
import type { RunningCoordinator } from '@tessera/coordinator';
import { type PlannedStep, readPredictions } from '@tessera/planner';

export interface StatusSnapshot {
  time: number;
  ready: boolean;
  backlog: Record<string, number>;
  jobs: {
    id: string;
    state: string;
    phase: string;
    output: string;
    tensorsDone: number;
    tensorsTotal: number;
    bytesDone: number;
    bytesTotal: number;
    error: string;
    createdAt: number;
    predictions: PlannedStep[];
  }[];
  workers: { id: string; host: string; pool: string; threads: number; inHand: number; tasksDone: number }[];
  /** merged input GB/s, one point per sample */
  throughput: { t: number; gbps: number }[];
  errors: { time: number; job: string; message: string }[];
}

const JOBS_SHOWN = 50;
const POINTS = 300;
const ERRORS = 20;

export class StatusFeed {
  private last: StatusSnapshot | undefined;
  private readonly listeners = new Set<(s: StatusSnapshot) => void>();
  private readonly throughput: StatusSnapshot['throughput'] = [];
  private readonly errors: StatusSnapshot['errors'] = [];
  /** bytes done per job at the last sample (jobs no longer listed are dropped) */
  private seen = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly unwatch: () => void;

  constructor(
    private readonly c: RunningCoordinator,
    private readonly everyMs = 1000,
  ) {
    this.unwatch = c.jobs.watchAll((e) => {
      if (e.type === 'warning' || e.type === 'redelivery' || (e.type === 'state' && e.state === 'failed' && e.message)) this.note(e.job_id, e.message);
    });
  }

  start(): void {
    const tick = () => {
      this.sample().then(
        (s) => {
          this.last = s;
          for (const l of this.listeners) l(s);
        },
        () => undefined,
      );
    };
    tick();
    this.timer = setInterval(tick, this.everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.unwatch();
    this.listeners.clear();
  }

  latest(): StatusSnapshot | undefined {
    return this.last;
  }

  /** Calls `listener` with every new snapshot; returns the unsubscribe function. */
  subscribe(listener: (s: StatusSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private note(job: string, message: string): void {
    this.errors.unshift({ time: Date.now(), job, message });
    this.errors.length = Math.min(this.errors.length, ERRORS);
  }

  private async sample(): Promise<StatusSnapshot> {
    const now = Date.now();
    const [records, live, backlog] = await Promise.all([this.c.jobs.list(), this.c.workers.live(), this.c.backlog()]);
    // throughput: bytes merged since the last sample, over every job (a restarted job counts from 0)
    let bytes = 0;
    const seen = new Map<string, number>();
    for (const j of records) {
      bytes += Math.max(0, j.bytesDone - (this.seen.get(j.id) ?? j.bytesDone));
      seen.set(j.id, j.bytesDone);
    }
    this.seen = seen;
    const prev = this.throughput[this.throughput.length - 1];
    this.throughput.push({ t: now, gbps: prev ? bytes / ((now - prev.t) / 1000) / 1e9 : 0 });
    if (this.throughput.length > POINTS) this.throughput.shift();
    const st = this.c.state();
    return {
      time: now,
      ready: st.connected && !st.stopping,
      backlog,
      jobs: records.slice(0, JOBS_SHOWN).map((j) => ({
        id: j.id,
        state: j.state,
        phase: j.phase,
        output: j.output,
        tensorsDone: j.tensorsDone,
        tensorsTotal: j.tensorsTotal,
        bytesDone: j.bytesDone,
        bytesTotal: j.bytesTotal,
        error: j.error,
        createdAt: j.createdAt,
        predictions: readPredictions(j.recipe),
      })),
      workers: live.map((w) => ({ id: w.id, host: w.host, pool: w.pool, threads: w.threads, inHand: w.inHand ?? 0, tasksDone: w.tasksDone })),
      throughput: [...this.throughput],
      errors: [...this.errors],
    };
  }
}
