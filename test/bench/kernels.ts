// Each kernel alone, one thread, inputs already in the kernel's memory: input GB/s.
import { BLOCK, KernelRuntime, type MergeSpec, type StatsSpec, maskKey } from '@tessera/tensor';

const N = 16 * BLOCK; // 16M elements per input: 128 MiB of bf16 input for a base and 3 experts

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

export function kernelFigures(): KernelFigure[] {
  const rt = new KernelRuntime();
  const prep = () => rt.prepare({ n: N, inputDtypes: ['BF16', 'BF16', 'BF16', 'BF16'], rounding: 'BF16', outDtype: 'BF16' });
  fill(prep());
  const bytes = 4 * N * 2;
  const models = (mask: (k: number) => import('@tessera/tensor').MaskSpec) => [0, 1, 2].map((k) => ({ weight: 1, scale: 1, mask: mask(k) }));
  const merges: [string, MergeSpec][] = [
    ['task_arithmetic merge', { kernel: 'tvmerge', consensus: 'sum', normalize: false, div: 1, lambda: 1, models: models(() => ({ kind: 'none' })) }],
    [
      'ties merge (top-k masks, sign election)',
      { kernel: 'tvmerge', consensus: 'ties', normalize: true, div: 1, lambda: 1, models: models(() => ({ kind: 'topk', thr: 0x3c000000, quota: 0 })) },
    ],
    [
      'dare_ties merge (random masks)',
      {
        kernel: 'tvmerge',
        consensus: 'ties',
        normalize: false,
        div: 1,
        lambda: 1,
        models: models((k) => ({ kind: 'bernoulli', key: maskKey(0, 't', k), p: 0.2 })),
      },
    ],
    ['linear merge', { kernel: 'linear', weights: [0.25, 0.25, 0.25, 0.25], normalize: true, div: 1 }],
  ];
  const stats: [string, StatsSpec][] = [
    ['top-k pass 1 (high-bits histogram)', { kernel: 'histHi' }],
    ['top-k pass 2 (low-bits histogram)', { kernel: 'histLo', entries: [0, 1, 2].map((model) => ({ model, bin: 0x3c00 })) }],
    ['L1 norms (DARE rescale)', { kernel: 'l1', masks: [0, 1, 2].map((k) => ({ kind: 'bernoulli' as const, key: maskKey(0, 't', k), p: 0.2 })) }],
  ];
  return [
    ...merges.map(([name, spec]) => ({ name, gbps: bytes / time(() => rt.merge(spec, 0)) / 1e9 })),
    ...stats.map(([name, spec]) => ({ name, gbps: bytes / time(() => rt.stats(spec, 0)) / 1e9 })),
  ];
}
