// Top-k selection over a whole tensor: a high bin without low bits is exact after the first
// pass, so the second (low-bits) pass is skipped. The masks must be those of both passes.
import { describe, expect, it } from 'vitest';
import { decode, roundTo } from '../codec.js';
import type { StatsResult } from '../kernel-spec.js';
import { referenceStats } from '../kernels.js';
import { F32 } from '../reference/precision.js';
import { planSlices } from '../slicing.js';
import { syntheticTensors } from '../testing.js';
import { findOperator } from './registry.js';
import { defaultParams } from './types.js';

/** Runs the program of `name` on reference statistics; `impure` forces (or not) the second pass. */
function run(name: string, dtype: 'BF16' | 'F32', forceSecondPass: boolean) {
  const op = findOperator(name)!;
  const numel = 30_000;
  const tensors = syntheticTensors(numel, 3, dtype, 7).map((t) => decode(t.bytes, t.dtype).map((x) => roundTo(x, dtype)));
  const defaults = defaultParams(op);
  const params = name === 'ties' ? { weight: 1, density: 0.3 } : { weight: 1, density: 0.3, gamma: 0.05 };
  const slices = planSlices(numel, 8192, numel, op.slicing(defaults));
  const program = op.program({
    name: 'w',
    shape: [numel],
    numel,
    inputs: tensors.map((_, i) => ({ role: i === 0 ? 'base' : 'model', model: i - 1, params: { ...defaults, ...params } })),
    params: defaults,
    seed: 0,
    slices,
  });
  const passes: string[] = [];
  for (let pass = program.nextStats(); pass; pass = program.nextStats()) {
    const results = slices.map((s, i) => {
      const values = tensors.map((t) => t.subarray(s.elemStart, s.elemStart + s.n));
      const r = referenceStats(pass(i), values, s.n, s.elemStart, F32);
      // every element counted as having low bits: the selection cannot finish after the first pass
      if (forceSecondPass && r.kernel === 'histHi') return { ...r, impure: r.hist.map((h) => h.slice()) } as StatsResult;
      return r;
    });
    passes.push(results[0]!.kernel);
    program.reduce(results);
  }
  return { passes, masks: JSON.stringify(slices.map((_, i) => program.merge(i))) };
}

describe('top-k selection passes', () => {
  it('ties, bf16 inputs: one pass, the masks of two', () => {
    const one = run('ties', 'BF16', false);
    const two = run('ties', 'BF16', true);
    expect(one.passes).toEqual(['histHi']);
    expect(two.passes).toEqual(['histHi', 'histLo']);
    expect(one.masks).toBe(two.masks);
  });

  it('breadcrumbs (two ranks, one of them in a bin with low bits): the masks of two passes', () => {
    const one = run('breadcrumbs', 'BF16', false);
    const two = run('breadcrumbs', 'BF16', true);
    expect(two.passes).toEqual(['histHi', 'histLo']);
    expect(one.masks).toBe(two.masks);
  });

  it('float32 inputs (low bits everywhere): the second pass runs', () => {
    expect(run('ties', 'F32', false).passes).toEqual(['histHi', 'histLo']);
  });
});
