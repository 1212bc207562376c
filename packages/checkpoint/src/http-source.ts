// HTTP(S) sources: byte ranges with Range requests, a bearer token from TESSERA_HTTP_TOKEN (or
// HF_TOKEN), retries with backoff on transient failures (TESSERA_HTTP_ATTEMPTS), and one clear error naming the URL.
import { CheckpointError, SourceError } from './errors.js';
import type { RangeSource } from './source.js';

/** attempts per request: TESSERA_HTTP_ATTEMPTS (1 to 20), default 5 (about 3 s of backoff) */
function attempts(): number {
  const raw = process.env.TESSERA_HTTP_ATTEMPTS;
  if (raw === undefined || raw === '') return 5;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 20)
    throw new CheckpointError('TESSERA_HTTP_ATTEMPTS', `must be an integer from 1 to 20, got ${JSON.stringify(raw)}`);
  return n;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = process.env.TESSERA_HTTP_TOKEN ?? process.env.HF_TOKEN;
  return { ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

const transient = (status: number) => status === 429 || status >= 500;

/** fetch with retries on network errors, 429 and 5xx; other statuses are returned. */
async function fetchRetry(url: string, init: RequestInit): Promise<Response> {
  const ATTEMPTS = attempts();
  let delay = 200;
  for (let attempt = 1; ; attempt++) {
    let res: Response | undefined;
    let error: unknown;
    try {
      res = await fetch(url, init);
      if (!transient(res.status)) return res;
      await res.body?.cancel();
    } catch (e) {
      error = e;
    }
    if (attempt >= ATTEMPTS) {
      const why = res ? `HTTP ${res.status} ${res.statusText}` : ((error as Error)?.message ?? String(error));
      throw new SourceError(url, `${why} (after ${ATTEMPTS} attempts)`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay *= 2;
  }
}

export async function httpGetText(url: string): Promise<string | undefined> {
  const res = await fetchRetry(url, { headers: headers() });
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new CheckpointError(url, `HTTP ${res.status} ${res.statusText}`);
  }
  return res.text();
}

export class HttpFile implements RangeSource {
  private length: number | undefined;
  constructor(readonly uri: string) {}

  async size(): Promise<number> {
    if (this.length !== undefined) return this.length;
    const res = await fetchRetry(this.uri, { headers: headers({ range: 'bytes=0-0' }) });
    await res.body?.cancel();
    if (res.status === 404) throw new CheckpointError(this.uri, 'not found (HTTP 404)');
    const range = /\/(\d+)\s*$/.exec(res.headers.get('content-range') ?? '');
    if (res.status === 206 && range) this.length = Number(range[1]);
    else if (res.ok && res.headers.get('content-length')) this.length = Number(res.headers.get('content-length'));
    else throw new CheckpointError(this.uri, `HTTP ${res.status} ${res.statusText}: no size (the server must answer Range requests)`);
    return this.length;
  }

  async readInto(position: number, into: Uint8Array): Promise<void> {
    if (into.byteLength === 0) return;
    const end = position + into.byteLength - 1;
    const ATTEMPTS = attempts();
    for (let attempt = 1; ; attempt++) {
      const res = await fetchRetry(this.uri, { headers: headers({ range: `bytes=${position}-${end}` }) });
      if (res.status !== 206) {
        await res.body?.cancel();
        throw new CheckpointError(
          this.uri,
          res.status === 416
            ? `bytes ${position}-${end} are past the end of the file (HTTP 416)`
            : `HTTP ${res.status} ${res.statusText} for bytes ${position}-${end} (the server must answer Range requests)`,
        );
      }
      let done = 0;
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          if (done + chunk.byteLength > into.byteLength)
            throw new CheckpointError(this.uri, `the server sent more than the ${into.byteLength} bytes asked for`);
          into.set(chunk, done);
          done += chunk.byteLength;
        }
      } catch (e) {
        if (e instanceof CheckpointError || attempt >= ATTEMPTS)
          throw e instanceof CheckpointError ? e : new SourceError(this.uri, `transfer failed (${(e as Error).message})`);
        continue;
      }
      if (done === into.byteLength) return;
      if (attempt >= ATTEMPTS) throw new SourceError(this.uri, `short read: ${done} of ${into.byteLength} bytes at ${position}`);
    }
  }

  async close(): Promise<void> {}
}
