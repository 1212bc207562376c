// A real nats-server for integration tests: JetStream on, loopback, random port, temp store.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServer {
  url: string;
  port: number;
  /** SIGKILL the server (its file store survives) */
  kill(): Promise<void>;
  /** start it again on the same port and store */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function launch(port: number, store: string): Promise<{ proc: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${log}`)), 15_000);
    const onData = (d: Buffer) => {
      log += d.toString();
      const m = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m && /Server is ready/.test(log)) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]) });
      }
    };
    proc.stderr!.on('data', onData);
    proc.stdout!.on('data', onData);
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export async function startNats(): Promise<NatsServer> {
  const store = mkdtempSync(join(tmpdir(), 'tessera-nats-'));
  let { proc, port } = await launch(-1, store);
  const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async kill() {
      proc.kill('SIGKILL');
      await exited(proc);
    },
    async restart() {
      ({ proc } = await launch(port, store));
    },
    async stop() {
      proc.kill('SIGTERM');
      await exited(proc);
      rmSync(store, { recursive: true, force: true });
    },
  };
}
