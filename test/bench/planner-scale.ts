// The planner at scale: `tessera plan` of three experts of a virtual 405B model over NATS with two
// worker processes, the structural signals from sampled decoder layers (a whole pass over the
// four 810 GB checkpoints is hours of generated input on this machine). Wall time, peak RSS of the
// planning process (the coordinator's side) and of each worker, stats tasks and bytes read.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startNats } from '../support/nats.js';
import { TESSERA_BIN } from '../support/cli.js';
import { spawnService } from '../support/services.js';

/** Peak resident set of a live process (VmHWM), in bytes; 0 once it is gone. */
function peakRss(pid: number | undefined): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface ScalePlan {
  layers: number;
  seconds: number;
  plannerRss: number;
  workerRss: number[];
  /** tasks the workers ran (the stats tasks of the signals) */
  tasks: number;
  plan: string;
}

export async function plan405b(layers: number, workers = 2): Promise<ScalePlan> {
  const nats = await startNats();
  const ws = Array.from({ length: workers }, () => spawnService(['worker', '--nats', nats.url, '--threads', '1', '--no-fsync']));
  try {
    await Promise.all(ws.map((w) => w.waitFor((l) => l.event === 'started')));
    const m = (k: number) => `synthetic://llama-405b?seed=1&model=${k}`;
    const started = performance.now();
    const proc = spawn(process.execPath, [TESSERA_BIN, 'plan', m(0), m(1), m(2), m(3), '--nats', nats.url, '--signal-layers', String(layers), '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TESSERA_CACHE_DIR: `/tmp/tessera-bench-cache-${process.pid}` },
    });
    let out = '',
      err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d));
    proc.stderr.on('data', (d: Buffer) => (err += d));
    let plannerRss = 0;
    const workerRss = ws.map(() => 0);
    const poll = setInterval(() => {
      plannerRss = Math.max(plannerRss, peakRss(proc.pid));
      ws.forEach((w, i) => (workerRss[i] = Math.max(workerRss[i]!, peakRss(w.proc.pid))));
    }, 200);
    const code = await new Promise<number | null>((r) => proc.once('exit', r));
    clearInterval(poll);
    ws.forEach((w, i) => (workerRss[i] = Math.max(workerRss[i]!, peakRss(w.proc.pid))));
    if (code !== 0) throw new Error(`tessera plan of the 405B experts failed (${code}): ${err}`);
    const plan = JSON.parse(out) as { recipe: string };
    return {
      layers,
      seconds: (performance.now() - started) / 1000,
      plannerRss,
      workerRss,
      tasks: ws.reduce((n, w) => n + w.lines.filter((l) => l.event === 'task').length, 0),
      plan: plan.recipe.split('\n')[0]!.replace(/^# planned by tessera: /, ''),
    };
  } finally {
    await Promise.all(ws.map((w) => w.kill()));
    await nats.stop();
  }
}
