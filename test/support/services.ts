// Coordinator and worker processes (the real CLI) for integration tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { TESSERA_BIN } from './cli.js';
import { type NatsServer, startNats } from './nats.js';

export interface Service {
  proc: ChildProcess;
  /** every JSON log line so far */
  lines: Record<string, unknown>[];
  /** resolves with the first log line matching */
  waitFor(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  stderr(): string;
}

export function spawnService(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Service {
  const proc = spawn(process.execPath, [TESSERA_BIN, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let buf = '',
    err = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue;
      }
      lines.push(line);
      for (const w of [...waiters])
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
    lines,
    waitFor(pred, timeoutMs = 60_000) {
      const hit = lines.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for a log line; stderr:\n${err}`)), timeoutMs);
        waiters.push({
          pred,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
      });
    },
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
    stderr: () => err,
  };
}

/**
 * A nats-server and `count` single-thread worker processes for the enclosing describe block
 * (started before its tests, killed after them).
 */
export function natsWithWorkers(count: number): { nats: NatsServer; workers: Service[] } {
  const cluster = { nats: undefined as unknown as NatsServer, workers: [] as Service[] };
  beforeAll(async () => {
    cluster.nats = await startNats();
    for (let i = 0; i < count; i++) {
      const w = spawnService(['worker', '--nats', cluster.nats.url, '--threads', '1']);
      cluster.workers.push(w);
      await w.waitFor((l) => l.event === 'started');
    }
  });
  afterAll(async () => {
    await Promise.all(cluster.workers.map((w) => w.kill('SIGKILL')));
    await cluster.nats.stop();
  });
  return cluster;
}
