import { type Operator, direct, bool, num } from './types.js';

export const linear: Operator = {
  name: 'linear',
  embeddings: 'common-rows',
  summary: 'Weighted average of all inputs (the base too, when base_model is set).',
  base: 'optional',
  weighsBase: true,
  models: { min: 1 },
  params: [
    { name: 'weight', scope: 'model', type: 'number', doc: 'weight of the model (the base needs one too when listed)' },
    { name: 'normalize', scope: 'global', type: 'boolean', default: true, doc: 'divide by the sum of the weights' },
  ],
  slicing: () => 'block',
  program(ctx) {
    const weights = ctx.inputs.map((i) => Math.fround(num(i.params.weight)));
    let div = 0;
    for (const w of weights) div = Math.fround(div + w);
    const normalize = bool(ctx.params.normalize);
    return direct(() => ({ kernel: 'linear', weights, normalize, div }));
  },
};
