// The planner service's Prometheus metrics: calls by method and outcome, and how long they took
// (a Plan runs signal passes on the workers: seconds to minutes).
import type { ExtraService } from '@tessera/coordinator';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function plannerMetrics(): { registry: Registry; instrument(service: ExtraService): ExtraService } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tessera_planner_' });
  const calls = new Counter({
    name: 'tessera_planner_calls_total',
    help: 'PlannerService calls, by method and outcome',
    labelNames: ['method', 'outcome'],
    registers: [registry],
  });
  const seconds = new Histogram({
    name: 'tessera_planner_call_seconds',
    help: 'time a PlannerService call took, by method',
    labelNames: ['method'],
    buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    registers: [registry],
  });
  return {
    registry,
    instrument(service) {
      const handlers = Object.fromEntries(
        Object.entries(service.handlers).map(([method, h]) => [
          method,
          async (req: never) => {
            const end = seconds.startTimer({ method });
            try {
              const out = await h(req);
              calls.inc({ method, outcome: 'ok' });
              return out;
            } catch (e) {
              calls.inc({ method, outcome: 'error' });
              throw e;
            } finally {
              end();
            }
          },
        ]),
      );
      return { ...service, handlers };
    },
  };
}
