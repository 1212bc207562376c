// A worker's Prometheus metrics, kept from its log events (what it did) and its state (what it
// holds now).
import type { WorkerState } from '@tessera/shard-worker';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function workerMetrics(state: () => WorkerState): { registry: Registry; observe(line: Record<string, unknown>): void } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tessera_worker_' });
  const done = new Counter({ name: 'tessera_worker_tasks_done_total', help: 'tasks finished and acknowledged', registers: [registry] });
  const failed = new Counter({ name: 'tessera_worker_tasks_failed_total', help: 'task attempts that failed', labelNames: ['final'], registers: [registry] });
  const redelivered = new Counter({
    name: 'tessera_worker_tasks_redelivered_total',
    help: 'tasks finished on a second or later delivery',
    registers: [registry],
  });
  const dropped = new Counter({ name: 'tessera_worker_tasks_dropped_total', help: 'tasks dropped because their job had ended', registers: [registry] });
  const bytesRead = new Counter({ name: 'tessera_worker_bytes_read_total', help: 'input bytes read by finished tasks', registers: [registry] });
  const bytesWritten = new Counter({ name: 'tessera_worker_bytes_written_total', help: 'output bytes written by finished tasks', registers: [registry] });
  const seconds = new Histogram({
    name: 'tessera_worker_task_seconds',
    help: 'time a task ran on a thread, by phase (merge, stats, gather, hash, activations, aim)',
    labelNames: ['phase'],
    buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  new Gauge({
    name: 'tessera_worker_tasks_in_flight',
    help: 'tasks held now (running or reporting)',
    registers: [registry],
    collect() {
      this.set(state().inHand);
    },
  });
  new Gauge({
    name: 'tessera_worker_ready',
    help: '1 when connected to NATS and taking tasks',
    registers: [registry],
    collect() {
      this.set(state().ready ? 1 : 0);
    },
  });
  return {
    registry,
    observe(l) {
      if (l.event === 'task') {
        done.inc();
        seconds.observe({ phase: String(l.phase) }, Number(l.runMs) / 1000);
        bytesRead.inc(Number(l.bytesRead) || 0);
        bytesWritten.inc(Number(l.bytesWritten) || 0);
        if (Number(l.delivery) > 1) redelivered.inc();
      } else if (l.event === 'task-failed') failed.inc({ final: String(l.final) });
      else if (l.event === 'task-dropped') dropped.inc();
    },
  };
}
