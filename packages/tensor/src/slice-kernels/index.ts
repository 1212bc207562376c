// The slice kernels written in TypeScript: operators whose per-element rules (variance
// selection, row softmaxes, per-row angles) are not worth a WebAssembly kernel. The same code
// is the runtime and the reference.
import type { StatsResult, StatsSpec } from '../kernel-spec.js';
import { BLOCK, HIST_HI_BINS, HIST_LO_BINS } from '../layout.js';
import type { Round } from '../reference/precision.js';
import { bitsOf, derived, selectMask } from './derived.js';
import { ramCounts } from './task-mixes.js';
export { fusion, nearswap, ram, sce } from './task-mixes.js';
export { nuslerp } from './nuslerp.js';
export { dellaProbs } from './della.js';

type Stats<K extends StatsSpec['kernel']> = Extract<StatsSpec, { kernel: K }>;

/** Histogram of the high bits of a derived value, and its count of exact zeros. */
export function derivedHi(spec: Stats<'derivedHi'>, inputs: Float64Array[], n: number, r: Round): StatsResult {
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

/** Histograms of the low bits of a derived value inside the given high bins. */
export function derivedLo(spec: Stats<'derivedLo'>, inputs: Float64Array[], n: number, r: Round): StatsResult {
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

/** Per block and model: the sum of squares of the task vector where SCE selects. */
export function sumSquares(spec: Stats<'sumSquares'>, inputs: Float64Array[], n: number, r: Round): StatsResult {
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

/** Per model: the entries it changes alone and those it shares. */
export function ramCountsStats(spec: Stats<'ramCounts'>, inputs: Float64Array[], n: number, r: Round): StatsResult {
  return { kernel: 'ramCounts', counts: ramCounts(spec.epsilon, inputs, n, r) };
}
