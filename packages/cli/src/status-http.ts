// The HTTP face of a long-running service, for Kubernetes probes and Prometheus: /healthz (the
// process answers), /readyz (200 when the service can take work, 503 with the reason when not)
// and /metrics (prom-client's text format), plus the routes a service adds (the coordinator's
// status page).
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { UsageError } from './exit.js';

export interface Readiness {
  ready: boolean;
  /** what the probe reports (e.g. why it is not ready) */
  detail: Record<string, unknown>;
}

export type Route = (req: IncomingMessage, res: ServerResponse) => void;

/** `host:port` (port 0: any free port) → the listening server and its port. */
export async function serveStatus(
  listen: string,
  readiness: () => Readiness,
  registry: Registry,
  routes: Record<string, Route> = {},
): Promise<{ server: Server; port: number }> {
  const m = /^(.+):(\d+)$/.exec(listen);
  if (!m || Number(m[2]) > 65535) throw new UsageError(`--http must be HOST:PORT, got ${JSON.stringify(listen)}`);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const reply = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET') return reply(405, 'text/plain', 'GET only\n');
    if (path === '/healthz') return reply(200, 'text/plain', 'ok\n');
    if (path === '/readyz') {
      const r = readiness();
      return reply(r.ready ? 200 : 503, 'application/json', `${JSON.stringify({ ready: r.ready, ...r.detail })}\n`);
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => reply(200, registry.contentType, text),
        (e: unknown) => reply(500, 'text/plain', `${String(e)}\n`),
      );
      return;
    }
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (route) return route(req, res);
    reply(404, 'text/plain', `not found: ${['/healthz', '/readyz', '/metrics', ...Object.keys(routes)].join(', ')}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(m[2]), m[1], () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
