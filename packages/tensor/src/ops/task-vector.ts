// The task-vector family (mergekit's generalized task arithmetic): each model's task vector
// d_i = x_i - b is sparsified (none, magnitude top-k, random), optionally L1-rescaled,
// weighted, and combined by plain sum or TIES sign election; result b + lambda * M.
import type { MaskSpec, StatsResult, TaskVectorModel } from '../kernel-spec.js';
import { HIST_HI_BINS, HIST_LO_BINS } from '../layout.js';
import { maskKey } from '../rng.js';
import { highBinAtRank, sliceQuotas, sumHistograms, valueAtRank } from '../topk.js';
import { type Operator, OperatorError, type ParamSpec, type TensorContext, type TensorProgram, bool, num } from './types.js';

export type Sparsification = 'none' | 'magnitude' | 'random';

export interface TaskVectorConfig {
  name: string;
  summary: string;
  sparsification: Sparsification;
  consensus: 'sum' | 'ties';
  normalize: boolean;
  rescale: boolean;
}

const DENSITY: ParamSpec = {
  name: 'density', scope: 'model', type: 'number', default: 1, range: { min: 0, max: 1, minExclusive: true },
  doc: 'fraction of each task vector kept',
};

export function taskVectorOperator(cfg: TaskVectorConfig): Operator {
  const params: ParamSpec[] = [
    { name: 'weight', scope: 'model', type: 'number', doc: 'weight of the model\'s task vector' },
    ...(cfg.sparsification === 'none' ? [] : [DENSITY]),
    {
      name: 'normalize', scope: 'global', type: 'boolean', default: cfg.normalize,
      doc: cfg.consensus === 'ties' ? 'divide each entry by the sum of the weights of the entries kept there' : 'divide by the sum of the weights',
    },
    { name: 'rescale', scope: 'global', type: 'boolean', default: cfg.rescale, doc: 'rescale each sparsified task vector to its original L1 norm' },
    { name: 'lambda', scope: 'global', type: 'number', default: 1, doc: 'scale of the merged task vector, applied after normalisation' },
    { name: 'int8_mask', scope: 'global', type: 'boolean', default: false, doc: 'accepted for compatibility; no effect on the numbers' },
  ];
  return {
    name: cfg.name,
    summary: cfg.summary,
    base: 'required',
    models: { min: 1 },
    params,
    rowAligned: () => false,
    program: (ctx) => new TaskVectorProgram(cfg, ctx),
  };
}

type Pass = 'histHi' | 'histLo' | 'l1' | 'done';

class TaskVectorProgram implements TensorProgram {
  private readonly weights: number[];
  private readonly scales: number[];
  /** per model: the top-k size, or 0 when no magnitude selection */
  private readonly k: number[];
  /** per model and slice: the mask */
  private readonly masks: MaskSpec[][];
  private highs: ({ bin: number; above: number } | undefined)[] = [];
  private pass: Pass;
  private readonly selected: number[];

  constructor(private readonly cfg: TaskVectorConfig, private readonly ctx: TensorContext) {
    const models = ctx.inputs.slice(1);
    this.weights = models.map((m) => num(m.params.weight));
    this.scales = models.map(() => 1);
    const density = models.map((m) => (m.params.density === undefined ? 1 : num(m.params.density)));
    this.k = density.map((d) => {
      if (cfg.sparsification !== 'magnitude' || d >= 1) return 0;
      const k = Math.floor(d * ctx.numel);
      if (k <= 0) throw new OperatorError(ctx.name, `density ${d} keeps no element of ${ctx.numel} (k = 0)`);
      return k;
    });
    this.selected = this.k.flatMap((k, i) => (k > 0 ? [i] : []));
    this.masks = models.map((m, i) => {
      const d = density[i]!;
      const mask: MaskSpec = cfg.sparsification === 'random' && d < 1
        ? { kind: 'bernoulli', key: maskKey(ctx.seed, ctx.name, m.model), p: d }
        : { kind: 'none' };
      return ctx.slices.map(() => mask);
    });
    this.pass = this.selected.length > 0 ? 'histHi' : this.needsRescale() ? 'l1' : 'done';
  }

  private needsRescale(): boolean {
    return bool(this.ctx.params.rescale) && this.masks.some((m) => m[0]!.kind !== 'none');
  }

  nextStats() {
    switch (this.pass) {
      case 'histHi': return () => ({ kernel: 'histHi' as const });
      case 'histLo': {
        const entries = this.selected.map((model) => ({ model, bin: this.highs[model]!.bin }));
        return () => ({ kernel: 'histLo' as const, entries });
      }
      case 'l1': return (s: number) => ({ kernel: 'l1' as const, masks: this.masks.map((m) => m[s]!) });
      case 'done': return null;
    }
  }

  reduce(results: StatsResult[]): void {
    switch (this.pass) {
      case 'histHi': {
        this.highs = this.k.map((k, model) => {
          if (k === 0) return undefined;
          const parts = results.map((r) => (r.kernel === 'histHi' ? r.hist[model]! : new Uint32Array(0)));
          return highBinAtRank(sumHistograms(parts, HIST_HI_BINS), k);
        });
        this.pass = 'histLo';
        return;
      }
      case 'histLo': {
        this.selected.forEach((model, entry) => {
          const parts = results.map((r) => (r.kernel === 'histLo' ? r.hist[entry]! : new Uint32Array(0)));
          const v = valueAtRank(this.highs[model]!, sumHistograms(parts, HIST_LO_BINS), this.k[model]!);
          const quotas = sliceQuotas(parts.map((h) => h[v.low]!), this.k[model]! - v.above);
          this.masks[model] = quotas.map((quota) => ({ kind: 'topk', thr: v.bits, quota }));
        });
        this.pass = this.needsRescale() ? 'l1' : 'done';
        return;
      }
      case 'l1': {
        const models = this.weights.length;
        const before = new Float64Array(models), after = new Float64Array(models);
        for (const r of results) {
          if (r.kernel !== 'l1') continue;
          for (const b of r.blocks) {
            for (let m = 0; m < models; m++) {
              before[m] = before[m]! + b[2 * m]!;
              after[m] = after[m]! + b[2 * m + 1]!;
            }
          }
        }
        for (let m = 0; m < models; m++) {
          if (this.masks[m]![0]!.kind === 'none') continue;
          this.scales[m] = before[m]! < 1e-7 || after[m]! < 1e-7 ? 1 : before[m]! / after[m]!;
        }
        this.pass = 'done';
        return;
      }
      case 'done': return;
    }
  }

  merge(slice: number) {
    const models: TaskVectorModel[] = this.weights.map((weight, m) => ({ weight, scale: this.scales[m]!, mask: this.masks[m]![slice]! }));
    let div = 0;
    for (const w of this.weights) div = Math.fround(div + Math.fround(w));
    if (Math.abs(div) < 1e-8) div = 1;
    return {
      kernel: 'tvmerge' as const,
      consensus: this.cfg.consensus,
      normalize: bool(this.ctx.params.normalize),
      div,
      lambda: num(this.ctx.params.lambda),
      models,
    };
  }
}

export const taskArithmetic = taskVectorOperator({
  name: 'task_arithmetic', summary: 'Base plus the weighted sum of the task vectors.',
  sparsification: 'none', consensus: 'sum', normalize: false, rescale: false,
});

export const ties = taskVectorOperator({
  name: 'ties', summary: 'TIES: keep the largest entries of each task vector, elect a sign per entry, average what agrees.',
  sparsification: 'magnitude', consensus: 'ties', normalize: true, rescale: false,
});

export const dareLinear = taskVectorOperator({
  name: 'dare_linear', summary: 'DARE: drop task-vector entries at random, rescale, add as task arithmetic.',
  sparsification: 'random', consensus: 'sum', normalize: false, rescale: true,
});

export const dareTies = taskVectorOperator({
  name: 'dare_ties', summary: 'DARE sparsification followed by TIES sign election.',
  sparsification: 'random', consensus: 'ties', normalize: false, rescale: true,
});
