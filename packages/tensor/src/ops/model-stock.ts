import type { StatsResult } from '../kernel-spec.js';
import { modelStockT, sumBlocks } from '../gram.js';
import { type Operator, bool } from './types.js';

export const modelStock: Operator = {
  name: 'model_stock',
  embeddings: 'common-rows',
  summary: 'Average of the models pulled toward the base by the angle between their task vectors.',
  base: 'required',
  models: { min: 2 },
  params: [{ name: 'filter_wise', scope: 'global', type: 'boolean', default: false, doc: 'one interpolation factor per row instead of per tensor' }],
  slicing: (p) => (bool(p.filter_wise) ? 'row' : 'block'),
  program(ctx) {
    const models = ctx.inputs.length - 1;
    const rowLen = ctx.shape.length > 1 ? ctx.shape[ctx.shape.length - 1]! : Math.max(1, ctx.numel);
    if (bool(ctx.params.filter_wise)) return { nextStats: () => null, reduce: () => undefined, merge: () => ({ kernel: 'stockRows', rowLen }) };
    let t = 0;
    let done = false;
    return {
      nextStats: () => (done ? null : () => ({ kernel: 'gram', mode: 'delta' })),
      reduce(results: StatsResult[]) {
        const width = (models * (models + 1)) / 2;
        t = modelStockT(
          sumBlocks(
            results.flatMap((r) => (r.kernel === 'gram' ? r.blocks : [])),
            width,
          ),
          models,
        );
        done = true;
      },
      merge: () => ({ kernel: 'stock', t, rowLen }),
    };
  },
};
