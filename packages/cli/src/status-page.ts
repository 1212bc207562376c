// The coordinator's status page: `/` (the page, static: it holds no data), `/status` (the latest
// snapshot as JSON) and `/events` (server-sent events, one snapshot per sample). The data routes
// take the gRPC bearer token when one is set; the page asks for it (or reads it from #token=).
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusFeed } from './status-feed.js';
import type { Route } from './status-http.js';

const PAGE = new URL('../static/status.html', import.meta.url);

function authorised(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const given = Buffer.from(req.headers.authorization ?? '');
  const want = Buffer.from(`Bearer ${token}`);
  return given.length === want.length && timingSafeEqual(given, want);
}

function refuse(res: ServerResponse): void {
  res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' });
  res.end('a bearer token is needed (Authorization: Bearer TOKEN)\n');
}

export function statusRoutes(feed: StatusFeed, token: string | undefined): Record<string, Route> {
  const page = readFileSync(PAGE);
  return {
    '/': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page);
    },
    '/status': (req, res) => {
      if (!authorised(req, token)) return refuse(res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(feed.latest() ?? null)}\n`);
    },
    '/events': (req, res) => {
      if (!authorised(req, token)) return refuse(res);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      const send = (s: unknown) => res.write(`data: ${JSON.stringify(s)}\n\n`);
      const latest = feed.latest();
      if (latest) send(latest);
      const unsubscribe = feed.subscribe(send);
      req.on('close', unsubscribe);
    },
  };
}
