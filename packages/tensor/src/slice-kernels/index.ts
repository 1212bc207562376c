// The slice kernels written in TypeScript: operators whose per-element rules (variance
// selection, row softmaxes, per-row angles) are not worth a WebAssembly kernel. The same code
// is the runtime and the reference.
import type { MaskSpec, MergeSpec, StatsResult, StatsSpec } from '../kernel-spec.js';
import { BLOCK, HIST_HI_BINS, HIST_LO_BINS } from '../layout.js';
import type { Round } from '../reference/precision.js';
import { bitsOf, derived, selectMask } from './derived.js';
import { dellaProbs } from './della.js';
import { nuslerp } from './nuslerp.js';
import { fusion, nearswap, ram, ramCounts, sce } from './task-mixes.js';

export const TS_MERGES = new Set<MergeSpec['kernel']>(['sce', 'ram', 'nearswap', 'fusion', 'nuslerp']);
export const TS_STATS = new Set<StatsSpec['kernel']>(['derivedHi', 'derivedLo', 'sumSquares', 'ramCounts']);

export function tsMerge(spec: MergeSpec, inputs: Float64Array[], n: number, r: Round): Float64Array {
  switch (spec.kernel) {
    case 'sce':
      return sce(spec, inputs, n, r);
    case 'ram':
      return ram(spec, inputs, n, r);
    case 'nearswap':
      return nearswap(spec, inputs, n, r);
    case 'fusion':
      return fusion(spec, inputs, n, r);
    case 'nuslerp':
      return nuslerp(spec, inputs, n, r);
    default:
      throw new Error(`${spec.kernel} is not a TypeScript slice kernel`);
  }
}

export function tsStats(spec: StatsSpec, inputs: Float64Array[], n: number, r: Round): StatsResult {
  switch (spec.kernel) {
    case 'derivedHi': {
      const v = derived(spec.value, inputs, n, r);
      const hist = new Uint32Array(HIST_HI_BINS);
      let zeros = 0;
      for (let e = 0; e < n; e++) {
        const b = bitsOf(v[e]!);
        hist[b >>> 16]!++;
        if (b === 0) zeros++;
      }
      return { kernel: 'derivedHi', hist, zeros };
    }
    case 'derivedLo': {
      const v = derived(spec.value, inputs, n, r);
      const hist = spec.bins.map(() => new Uint32Array(HIST_LO_BINS));
      for (let e = 0; e < n; e++) {
        const b = bitsOf(v[e]!);
        spec.bins.forEach((bin, i) => {
          if (b >>> 16 === bin) hist[i]![b & 0xffff]!++;
        });
      }
      return { kernel: 'derivedLo', hist };
    }
    case 'sumSquares': {
      const base = inputs[0]!,
        models = inputs.slice(1);
      const keep = spec.select === 'all' ? undefined : selectMask(derived({ kind: 'variance' }, inputs, n, r), spec.select);
      const blocks: Float64Array[] = [];
      for (let start = 0; start < Math.max(n, 1); start += BLOCK) {
        const sums = new Float64Array(models.length);
        for (let e = start; e < Math.min(n, start + BLOCK); e++) {
          if (keep && !keep[e]) continue;
          models.forEach((x, k) => {
            const d = r(x[e]! - base[e]!);
            sums[k] = sums[k]! + d * d;
          });
        }
        blocks.push(sums);
      }
      return { kernel: 'sumSquares', blocks };
    }
    case 'ramCounts':
      return { kernel: 'ramCounts', counts: ramCounts(spec.epsilon, inputs, n, r) };
    default:
      throw new Error(`${spec.kernel} is not a TypeScript stats kernel`);
  }
}

/** Replaces DELLA masks by per-element probabilities computed from the slice (inputs[0] is the base). */
export function resolveMasks(masks: MaskSpec[], inputs: Float64Array[], n: number, r: Round): MaskSpec[] {
  return masks.map((m, k) =>
    m.kind === 'della' ? { kind: 'probs', key: m.key, probs: dellaProbs(inputs[0]!, inputs[k + 1]!, n, m.rowLen, m.density, m.epsilon, r) } : m,
  );
}
