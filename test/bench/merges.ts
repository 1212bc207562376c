// End-to-end merges of a TinyLlama-shaped base and 3 experts: Tessera (the real CLI, in a
// child process) and the PyTorch peer, in the same run, inputs in the page cache.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TESSERA_BIN } from '../support/cli.js';

export const OPS = ['task_arithmetic', 'ties', 'dare_ties', 'della'] as const;
export type Op = (typeof OPS)[number];

const RECIPES: Record<Op, string> = {
  task_arithmetic:
    'merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 0.5}}\n  - {model: e2, parameters: {weight: 0.3}}\n  - {model: e3, parameters: {weight: 0.2}}\ndtype: bfloat16\n',
  ties: 'merge_method: ties\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 1, density: 0.2}}\n  - {model: e2, parameters: {weight: 1, density: 0.2}}\n  - {model: e3, parameters: {weight: 1, density: 0.2}}\ndtype: bfloat16\n',
  dare_ties:
    'merge_method: dare_ties\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 1, density: 0.2}}\n  - {model: e2, parameters: {weight: 1, density: 0.2}}\n  - {model: e3, parameters: {weight: 1, density: 0.2}}\ndtype: bfloat16\n',
  della:
    'merge_method: della\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 1, density: 0.2}}\n  - {model: e2, parameters: {weight: 1, density: 0.2}}\n  - {model: e3, parameters: {weight: 1, density: 0.2}}\ndtype: bfloat16\n',
};

export interface TesseraRun {
  /** the whole process, start-up included */
  seconds: number;
  /** from the process's start to the plan (reading the recipe and headers, planning), and its exit after the merge */
  startSeconds: number;
  inputBytes: number;
  outputBytes: number;
  gbps: number;
  peakRssBytes: number;
}

/** Reads every input file once so that the merges read from the page cache. */
export function warmPageCache(dir: string): void {
  for (const m of ['base', 'e1', 'e2', 'e3']) spawnSync('cat', [join(dir, m, 'model.safetensors')], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export function runTessera(dir: string, op: Op, workers: number, fsync: boolean): TesseraRun {
  const recipe = join(dir, `${op}.yaml`);
  writeFileSync(recipe, RECIPES[op]);
  const out = join(dir, `out-${op}`);
  const started = performance.now();
  const r = spawnSync(
    process.execPath,
    [TESSERA_BIN, 'merge', recipe, '--out', out, '--overwrite', '--workers', String(workers), '--json', ...(fsync ? [] : ['--no-fsync'])],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  const seconds = (performance.now() - started) / 1000;
  const done = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string })
    .find((e) => e.type === 'done') as { seconds: number; inputBytes: number; outputBytes: number; peakRssBytes: number } | undefined;
  if (r.status !== 0 || !done) throw new Error(`tessera merge ${op} failed (${r.status}): ${r.stderr}`);
  rmSync(out, { recursive: true, force: true });
  return {
    seconds,
    startSeconds: seconds - done.seconds,
    inputBytes: done.inputBytes,
    outputBytes: done.outputBytes,
    gbps: done.inputBytes / seconds / 1e9,
    peakRssBytes: done.peakRssBytes,
  };
}

export interface PeerRun {
  seconds: number;
  inputBytes: number;
  gbps: number;
}

export const PYTHON = '/usr/bin/python3';

/**
 * Installs the PyTorch peer (Debian python3-torch) and an optimised BLAS for it when missing and
 * this runs as root: Debian's torch otherwise uses the reference BLAS (about 1.6 GFLOP/s here,
 * against 68 with OpenBLAS), which would make the forward-pass comparison meaningless.
 */
export function ensurePeer(): string {
  const blas =
    spawnSync('sh', ['-c', 'update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep -q "^Value: .*openblas"'], { stdio: 'ignore' })
      .status === 0;
  if (torchAvailable() && blas) return 'PyTorch peer: Debian python3-torch with OpenBLAS';
  if (process.getuid?.() !== 0)
    return `PyTorch peer: ${torchAvailable() ? 'torch without OpenBLAS (run as root to install libopenblas0-pthread)' : 'not installed (apt-get install python3-torch libopenblas0-pthread)'}`;
  const r = spawnSync(
    'sh',
    [
      '-c',
      'apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null 2>&1)',
    ],
    { stdio: 'ignore' },
  );
  return r.status === 0
    ? 'PyTorch peer: installed python3-torch and libopenblas0-pthread'
    : 'PyTorch peer: installing python3-torch libopenblas0-pthread failed';
}

export function torchAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

/** The PyTorch peer on the same inputs (up to maxBytes of input: topk/argsort make it slow). */
export function runPeer(dir: string, op: Op, maxBytes: number, threads: number): PeerRun {
  const script = new URL('./torch_peer.py', import.meta.url).pathname;
  const out = join(dir, `peer-${op}.safetensors`);
  const r = spawnSync(
    PYTHON,
    [
      script,
      op,
      out,
      ...['base', 'e1', 'e2', 'e3'].map((m) => join(dir, m, 'model.safetensors')),
      '--max-bytes',
      String(maxBytes),
      '--threads',
      String(threads),
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`torch peer ${op} failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { input_bytes: number; seconds: number };
  if (existsSync(out)) rmSync(out);
  return { seconds: j.seconds, inputBytes: j.input_bytes, gbps: j.input_bytes / j.seconds / 1e9 };
}

export function modelBytes(dir: string): number {
  return ['base', 'e1', 'e2', 'e3'].reduce((s, m) => s + statSync(join(dir, m, 'model.safetensors')).size, 0);
}
