// A local HTTP server in the Hugging Face layout (/<repo>/resolve/main/<file>) that answers
// Range requests and records them; optionally failing data requests (an unreadable source).
import { createReadStream, statSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { join } from 'node:path';

interface RangeRequest {
  path: string;
  start: number;
  end: number;
}

export interface RangeServer {
  url: string;
  requests: RangeRequest[];
  /** answer `status` (default 500) to range requests past `from` bytes of paths matching `pattern` */
  failData(pattern: RegExp | undefined, from?: number, status?: number): void;
  close(): Promise<void>;
}

export async function startRangeServer(root: string): Promise<RangeServer> {
  const requests: RangeRequest[] = [];
  let fail: { pattern: RegExp; from: number; status: number } | undefined;
  const server: Server = createServer((req, res) => {
    const m = /^\/([^?]+?)\/resolve\/main\/([^?]+)$/.exec(decodeURIComponent(req.url ?? ''));
    const path = m ? join(root, m[1]!, m[2]!) : '';
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!range) {
      res.writeHead(200, { 'content-length': size });
      createReadStream(path).pipe(res);
      return;
    }
    const start = Number(range[1]),
      end = Math.min(Number(range[2]), size - 1);
    requests.push({ path: `${m![1]}/${m![2]}`, start, end });
    if (fail?.pattern.test(path) && start >= fail.from) {
      res.writeHead(fail.status).end('failing on purpose');
      return;
    }
    if (start >= size) {
      res.writeHead(416).end();
      return;
    }
    res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 });
    createReadStream(path, { start, end }).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failData(pattern, from = 0, status = 500) {
      fail = pattern ? { pattern, from, status } : undefined;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
