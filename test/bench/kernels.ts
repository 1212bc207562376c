// Each kernel alone, one thread, inputs already in the kernel's memory: input GB/s. The data
// is shaped like bf16 fine-tunes (experts differ from the base in the low mantissa bits, so
// many task-vector entries tie), and the sparsifying masks use the thresholds a density of 0.2
// really selects on it (found by sorting, ties at the threshold and their quotas included).
import { BLOCK, KernelRuntime, type MaskSpec, type MergeSpec, type StatsSpec, maskKey } from '@tessera/tensor';

const N = 16 * BLOCK; // 16M elements per input: 128 MiB of bf16 input for a base and 3 experts
const DENSITY = 0.2;

/** A base of magnitudes 2^-8..2^-5 and experts that differ from it in the low mantissa bits (dense small task vectors). */
function fill(views: Uint8Array[]): void {
  let x = 12345;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const base = new Uint32Array(views[0]!.buffer, views[0]!.byteOffset, views[0]!.byteLength / 4);
  for (let i = 0; i < base.length; i++) {
    const r = next();
    base[i] = ((r & 0x807f807f) | ((((r >>> 12) & 3) + 0x77) << 23) | ((((r >>> 20) & 3) + 0x77) << 7)) >>> 0;
  }
  for (const v of views.slice(1)) {
    const w = new Uint32Array(v.buffer, v.byteOffset, v.byteLength / 4);
    for (let i = 0; i < w.length; i++) w[i] = (base[i]! ^ (next() & 0x00070007)) >>> 0;
  }
}

/** f32 bit patterns of |x - b| (bf16 inputs), ascending. */
function sortedMagnitudes(x: Uint8Array, b: Uint8Array): Uint32Array {
  const xs = new Uint16Array(x.buffer, x.byteOffset, N),
    bs = new Uint16Array(b.buffer, b.byteOffset, N);
  const f = new Float32Array(3);
  const u = new Uint32Array(f.buffer);
  const out = new Uint32Array(N);
  for (let i = 0; i < N; i++) {
    u[0] = xs[i]! << 16;
    u[1] = bs[i]! << 16;
    f[2] = f[0]! - f[1]!;
    out[i] = u[2]! & 0x7fffffff;
  }
  return out.sort();
}

/** Elements below value v in ascending s. */
function below(s: Uint32Array, v: number): number {
  let lo = 0,
    hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** TIES's top-k mask: keep the k largest |d|, ties at the threshold by element order. */
function topk(s: Uint32Array): MaskSpec {
  const k = Math.floor(DENSITY * N);
  const thr = s[N - k]!;
  return { kind: 'topk', thr, quota: k - (N - below(s, thr + 1)) };
}

/** Breadcrumbs' window (gamma 0.01): keep ascending ranks [bottom, n - top). */
function window(s: Uint32Array): MaskSpec {
  const top = Math.floor(0.01 * N),
    bottom = N - Math.floor(DENSITY * N) - top;
  const lo = s[bottom]!,
    hi = s[N - top - 1]!;
  return { kind: 'window', lo, dropLo: bottom - below(s, lo), hi, keepHi: N - top - below(s, hi) };
}

function time(f: () => void): number {
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    f();
    best = Math.min(best, performance.now() - t);
  }
  return best / 1000;
}

export interface KernelFigure {
  name: string;
  gbps: number;
}

/** The figures, on kernels of `Runtime` (this build's by default), of the kernels `only` names. */
export function kernelFigures(Runtime: new () => KernelRuntime = KernelRuntime, only: (name: string) => boolean = () => true): KernelFigure[] {
  const rt = new Runtime();
  const prep = () => rt.prepare({ n: N, inputDtypes: ['BF16', 'BF16', 'BF16', 'BF16'], rounding: 'BF16', outDtype: 'BF16' });
  const views = prep();
  fill(views);
  const sorted = views.slice(1).map((x) => sortedMagnitudes(x, views[0]!));
  const bytes = 4 * N * 2;
  const models = (mask: (k: number) => MaskSpec, scale = 1) => [0, 1, 2].map((k) => ({ weight: 1, scale, mask: mask(k) }));
  const random = (k: number): MaskSpec => ({ kind: 'bernoulli', key: maskKey(0, 't', k), p: DENSITY });
  // DELLA's default epsilon, on rows of TinyLlama's hidden size
  const della = (k: number): MaskSpec => ({ kind: 'della', key: maskKey(0, 't', k), density: DENSITY, epsilon: 0.15, rowLen: 2048 });
  const merges: [string, MergeSpec][] = [
    ['task_arithmetic merge', { kernel: 'tvmerge', consensus: 'sum', normalize: false, div: 1, lambda: 1, models: models(() => ({ kind: 'none' })) }],
    [
      'ties merge (top-k masks, sign election)',
      { kernel: 'tvmerge', consensus: 'ties', normalize: true, div: 1, lambda: 1, models: models((k) => topk(sorted[k]!)) },
    ],
    ['dare_ties merge (random masks, rescaled)', { kernel: 'tvmerge', consensus: 'ties', normalize: false, div: 1, lambda: 1, models: models(random, 4.9) }],
    [
      'breadcrumbs merge (window masks)',
      { kernel: 'tvmerge', consensus: 'sum', normalize: false, div: 1, lambda: 1, models: models((k) => window(sorted[k]!)) },
    ],
    ['della merge (ranks within rows)', { kernel: 'tvmerge', consensus: 'ties', normalize: true, div: 1, lambda: 1, models: models(della) }],
    ['linear merge', { kernel: 'linear', weights: [0.25, 0.25, 0.25, 0.25], normalize: true, div: 1 }],
  ];
  const thresholds = sorted.map((s) => (topk(s) as { thr: number }).thr);
  const stats: [string, StatsSpec][] = [
    ['top-k pass 1 (high-bits histogram)', { kernel: 'histHi' }],
    ['top-k pass 2 (low-bits histogram)', { kernel: 'histLo', entries: thresholds.map((t, model) => ({ model, bin: t >>> 16 })) }],
    ['L1 norms (DARE rescale)', { kernel: 'l1', masks: [0, 1, 2].map(random) }],
    ['L1 norms (DELLA rescale)', { kernel: 'l1', masks: [0, 1, 2].map(della) }],
  ];
  return [
    ...merges.filter(([name]) => only(name)).map(([name, spec]) => ({ name, gbps: bytes / time(() => rt.merge(spec, 0)) / 1e9 })),
    ...stats.filter(([name]) => only(name)).map(([name, spec]) => ({ name, gbps: bytes / time(() => rt.stats(spec, 0)) / 1e9 })),
  ];
}
