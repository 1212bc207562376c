import type { StatsResult } from '../kernel-spec.js';
import { sumBlocks } from '../gram.js';
import { type Operator, num } from './types.js';

/** Coefficients (s0, s1) of base and model, from the Gram matrix [bb, bx, xx] (mergekit's slerp). */
export function slerpCoefficients(t: number, bb: number, bx: number, xx: number): [number, number] {
  const nb = Math.sqrt(bb),
    nx = Math.sqrt(xx);
  const dot = bx / ((nb > 1e-8 ? nb : 1) * (nx > 1e-8 ? nx : 1));
  if (Math.abs(dot) > 0.9995) return [1 - t, t];
  const theta = Math.acos(dot);
  const sin = Math.sin(theta);
  return [Math.sin(theta - theta * t) / sin, Math.sin(theta * t) / sin];
}

export const slerp: Operator = {
  name: 'slerp',
  embeddings: 'common-rows',
  summary: 'Spherical interpolation between the base and one model (linear when nearly colinear).',
  base: 'required',
  models: { min: 1, max: 1 },
  params: [{ name: 't', scope: 'global', type: 'number', doc: 'interpolation factor: 0 gives the base, 1 the model' }],
  slicing: () => 'block',
  program(ctx) {
    let weights: number[] = [];
    let done = false;
    return {
      nextStats: () => (done ? null : () => ({ kernel: 'gram', mode: 'raw' })),
      reduce(results: StatsResult[]) {
        const g = sumBlocks(
          results.flatMap((r) => (r.kernel === 'gram' ? r.blocks : [])),
          3,
        );
        weights = slerpCoefficients(num(ctx.params.t), g[0]!, g[1]!, g[2]!);
        done = true;
      },
      merge: () => ({ kernel: 'linear', weights, normalize: false, div: 1 }),
    };
  },
};
