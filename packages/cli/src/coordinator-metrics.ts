// The coordinator's Prometheus metrics: jobs by state and the progress of each running one (read
// from the job store when scraped), live workers per pool (from the heartbeat bucket), each
// pool's queue backlog (from its consumer), jobs ended (from its log events), and readiness.
import type { RunningCoordinator } from '@tessera/coordinator';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

const STATES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;

export function coordinatorMetrics(c: RunningCoordinator): { registry: Registry; observe(line: Record<string, unknown>): void } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tessera_coordinator_' });
  const ended = new Counter({
    name: 'tessera_coordinator_jobs_ended_total',
    help: 'jobs that ended here, by final state',
    labelNames: ['state'],
    registers: [registry],
  });
  new Gauge({
    name: 'tessera_coordinator_jobs',
    help: 'jobs in the job store, by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const jobs = await c.jobs.list();
      for (const state of STATES) this.set({ state }, jobs.filter((j) => j.state === state).length);
    },
  });
  const progress = (name: string, help: string, pick: (j: Awaited<ReturnType<typeof c.jobs.list>>[number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['job'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const j of await c.jobs.list()) if (j.state === 'running' || j.state === 'queued') this.set({ job: j.id }, pick(j));
      },
    });
  progress('tessera_coordinator_job_bytes_done', 'input bytes merged so far, per running job', (j) => j.bytesDone);
  progress('tessera_coordinator_job_bytes_total', 'input bytes of the whole merge, per running job', (j) => j.bytesTotal);
  progress('tessera_coordinator_job_tensors_done', 'tensors finished, per running job', (j) => j.tensorsDone);
  progress('tessera_coordinator_job_tensors_total', 'tensors of the merge, per running job', (j) => j.tensorsTotal);
  new Gauge({
    name: 'tessera_coordinator_workers',
    help: 'live workers (fresh heartbeat), by pool',
    labelNames: ['pool'],
    registers: [registry],
    async collect() {
      this.reset();
      const live = await c.workers.live();
      for (const pool of new Set(['cpu', ...live.map((w) => w.pool)])) this.set({ pool }, live.filter((w) => w.pool === pool).length);
    },
  });
  new Gauge({
    name: 'tessera_coordinator_queue_backlog',
    help: "tasks waiting in a pool's queue: not yet delivered plus delivered and not yet acknowledged",
    labelNames: ['pool'],
    registers: [registry],
    async collect() {
      for (const [pool, n] of Object.entries(await c.backlog())) this.set({ pool }, n);
    },
  });
  new Gauge({
    name: 'tessera_coordinator_ready',
    help: '1 when connected to NATS and serving',
    registers: [registry],
    collect() {
      const s = c.state();
      this.set(s.connected && !s.stopping ? 1 : 0);
    },
  });
  return {
    registry,
    observe(l) {
      if (l.event === 'job-end' || l.event === 'job-failed') ended.inc({ state: String(l.state) });
    },
  };
}
