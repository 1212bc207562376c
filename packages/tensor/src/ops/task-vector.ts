// The task-vector family (mergekit's generalized task arithmetic): each model's task vector
// d_i = x_i - b is sparsified (none, magnitude top-k, magnitude outliers as in breadcrumbs,
// random, DELLA's rank-weighted random), optionally L1-rescaled, weighted, and combined by
// plain sum or TIES sign election; result b + lambda * M.
import type { MaskSpec, StatsResult, TaskVectorModel } from '../kernel-spec.js';
import { HIST_HI_BINS, HIST_LO_BINS } from '../layout.js';
import { maskKey } from '../rng.js';
import { type ExactValue, type HighBin, highBinAtRank, sliceQuotas, sumHistograms, valueAtRank } from '../topk.js';
import { type Operator, OperatorError, type ParamSpec, type ParamValue, type TensorContext, type TensorProgram, bool, num } from './types.js';

type Sparsification = 'none' | 'magnitude' | 'outliers' | 'random' | 'della';

interface TaskVectorConfig {
  name: string;
  summary: string;
  sparsification: Sparsification;
  consensus: 'sum' | 'ties';
  normalize: boolean;
  rescale: boolean;
}

const DENSITY: ParamSpec = {
  name: 'density',
  scope: 'model',
  type: 'number',
  default: 1,
  range: { min: 0, max: 1, minExclusive: true },
  doc: 'fraction of each task vector kept',
};

function taskVectorOperator(cfg: TaskVectorConfig): Operator {
  const sparse = cfg.sparsification !== 'none';
  const params: ParamSpec[] = [
    { name: 'weight', scope: 'model', type: 'number', doc: "weight of the model's task vector" },
    ...(sparse ? [DENSITY] : []),
    ...(cfg.sparsification === 'outliers'
      ? [
          {
            name: 'gamma',
            scope: 'model',
            type: 'number',
            default: 0.01,
            range: { min: 0, max: 1 },
            doc: 'fraction of the largest entries removed as outliers',
          } satisfies ParamSpec,
        ]
      : []),
    ...(cfg.sparsification === 'della'
      ? [
          {
            name: 'epsilon',
            scope: 'model',
            type: 'number',
            default: 0.15,
            range: { min: 0, max: 1 },
            doc: 'spread of the keep probabilities around density (by magnitude rank within a row)',
          } satisfies ParamSpec,
        ]
      : []),
    {
      name: 'normalize',
      scope: 'global',
      type: 'boolean',
      default: cfg.normalize,
      doc: cfg.consensus === 'ties' ? 'divide each entry by the sum of the weights of the entries kept there' : 'divide by the sum of the weights',
    },
    { name: 'rescale', scope: 'global', type: 'boolean', default: cfg.rescale, doc: 'rescale each sparsified task vector to its original L1 norm' },
    // mergekit reads DELLA's lambda per model (the first model's value applies)
    {
      name: 'lambda',
      scope: cfg.sparsification === 'della' ? 'model' : 'global',
      type: 'number',
      default: 1,
      doc: 'scale of the merged task vector, applied after normalisation',
    },
    { name: 'int8_mask', scope: 'global', type: 'boolean', default: false, doc: 'accepted for compatibility; no effect on the numbers' },
  ];
  return {
    name: cfg.name,
    summary: cfg.summary,
    embeddings: 'base-rows',
    base: 'required',
    models: { min: 1 },
    params,
    slicing: () => (cfg.sparsification === 'della' ? 'row' : 'block'),
    program: (ctx) => new TaskVectorProgram(cfg, ctx),
  };
}

/** What a model's sparsification needs from the radix selection. */
type Selection =
  | { kind: 'topk'; k: number }
  /** keep ascending ranks [bottom, n - top) */
  | { kind: 'window'; bottom: number; top: number };

type Pass = 'histHi' | 'histLo' | 'l1' | 'done';

class TaskVectorProgram implements TensorProgram {
  private readonly weights: number[];
  private readonly scales: number[];
  private readonly lambda: number;
  /** per model: what to select, when its mask comes from ranks */
  private readonly selections: (Selection | undefined)[];
  /** per model: the descending ranks to find */
  private readonly ranks: number[][];
  /** per model and slice: the mask */
  private readonly masks: MaskSpec[][];
  private highs: HighBin[][] = [];
  /** the (model, high bin) pairs of the second pass */
  private entries: { model: number; bin: number }[] = [];
  /** per model and rank: the value when it is known after the first pass (see reduce) */
  private exact: ({ v: ExactValue; perSlice: number[] } | undefined)[][] = [];
  private pass: Pass;

  constructor(
    private readonly cfg: TaskVectorConfig,
    private readonly ctx: TensorContext,
  ) {
    const models = ctx.inputs.slice(1);
    const n = ctx.numel;
    const p = (m: (typeof models)[number], name: string, dflt: number) => (m.params[name] === undefined ? dflt : num(m.params[name] as ParamValue));
    this.weights = models.map((m) => num(m.params.weight));
    this.scales = models.map(() => 1);
    this.lambda = cfg.sparsification === 'della' ? p(models[0]!, 'lambda', 1) : num(ctx.params.lambda);
    const rowLen = ctx.shape.length > 1 ? ctx.shape[ctx.shape.length - 1]! : Math.max(1, n);
    this.selections = models.map((m) => {
      const d = p(m, 'density', 1);
      if (d >= 1) return undefined;
      if (cfg.sparsification === 'magnitude') {
        const k = Math.floor(d * n);
        if (k <= 0) throw new OperatorError(ctx.name, `density ${d} keeps no element of ${n} (k = 0)`);
        return { kind: 'topk', k };
      }
      if (cfg.sparsification === 'outliers') {
        let top = Math.floor(p(m, 'gamma', 0.01) * n);
        let bottom = n - Math.floor(d * n) - top;
        if (bottom < 0) {
          top += bottom;
          bottom = 0;
        }
        // mergekit keeps sorted positions [bottom, n - top): with top = 0 that slice is empty
        if (top <= 0 || n - top - bottom <= 0) return undefined;
        return { kind: 'window', bottom, top };
      }
      return undefined;
    });
    this.ranks = this.selections.map((s) => (!s ? [] : s.kind === 'topk' ? [s.k] : [n - s.bottom, s.top + 1]));
    this.masks = models.map((m, i) => {
      const d = p(m, 'density', 1);
      let mask: MaskSpec = { kind: 'none' };
      if (d < 1 && cfg.sparsification === 'random') mask = { kind: 'bernoulli', key: maskKey(ctx.seed, ctx.name, m.model), p: d };
      if (d < 1 && cfg.sparsification === 'outliers' && !this.selections[i]) mask = { kind: 'zero' };
      if (cfg.sparsification === 'della') mask = dellaMask(ctx, m.model, d, p(m, 'epsilon', 0.15), rowLen);
      return ctx.slices.map(() => mask);
    });
    this.pass = this.ranks.some((r) => r.length > 0) ? 'histHi' : this.needsRescale() ? 'l1' : 'done';
  }

  private needsRescale(): boolean {
    return bool(this.ctx.params.rescale) && this.masks.some((m) => m[0]!.kind !== 'none');
  }

  nextStats() {
    switch (this.pass) {
      case 'histHi':
        return () => ({ kernel: 'histHi' as const });
      case 'histLo':
        return () => ({ kernel: 'histLo' as const, entries: this.entries });
      case 'l1':
        return (s: number) => ({ kernel: 'l1' as const, masks: this.masks.map((m) => m[s]!) });
      case 'done':
        return null;
    }
  }

  reduce(results: StatsResult[]): void {
    switch (this.pass) {
      case 'histHi': {
        const his = results.filter((r) => r.kernel === 'histHi');
        this.highs = this.ranks.map((ranks, model) => {
          if (ranks.length === 0) return [];
          const total = sumHistograms(
            his.map((r) => r.hist[model]!),
            HIST_HI_BINS,
          );
          return ranks.map((rank) => highBinAtRank(total, rank));
        });
        // Inside a high bin, the elements without low bits are the smallest, all equal to the
        // bin's own value, and the others are above them: a rank that falls among the former is
        // exact after this pass (no second pass; differences of 16-bit floats rarely have low bits).
        this.exact = this.highs.map((hs, model) =>
          hs.map((h, j) => {
            const impure = his.map((r) => r.impure[model]![h.bin]!);
            const above = h.above + impure.reduce((a, b) => a + b, 0);
            if (this.ranks[model]![j]! <= above) return undefined;
            const perSlice = his.map((r, i) => r.hist[model]![h.bin]! - impure[i]!);
            return { v: { bits: (h.bin << 16) >>> 0, above, equal: perSlice.reduce((a, b) => a + b, 0), low: 0 }, perSlice };
          }),
        );
        this.entries = this.highs.flatMap((hs, model) =>
          [...new Set(hs.filter((_, j) => !this.exact[model]![j]).map((h) => h.bin))].map((bin) => ({ model, bin })),
        );
        if (this.entries.length > 0) this.pass = 'histLo';
        else this.select([]);
        return;
      }
      case 'histLo':
        this.select(this.entries.map((_, i) => results.map((r) => (r.kernel === 'histLo' ? r.hist[i]! : new Uint32Array(0)))));
        return;
      case 'l1': {
        const models = this.weights.length;
        const before = new Float64Array(models),
          after = new Float64Array(models);
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
      case 'done':
        return;
    }
  }

  /** The masks from the selected values (exact after the first pass, or from the low histograms of `entries`). */
  private select(lows: Uint32Array[][]): void {
    this.selections.forEach((sel, model) => {
      if (!sel) return;
      const values = this.ranks[model]!.map((rank, j) => {
        const exact = this.exact[model]![j];
        if (exact) return exact;
        const high = this.highs[model]![j]!;
        const parts = lows[this.entries.findIndex((e) => e.model === model && e.bin === high.bin)]!;
        const v = valueAtRank(high, sumHistograms(parts, HIST_LO_BINS), rank);
        return { v, perSlice: parts.map((h) => h[v.low]!) };
      });
      this.masks[model] = sliceMasks(sel, values, this.ctx.numel);
    });
    this.pass = this.needsRescale() ? 'l1' : 'done';
  }

  merge(slice: number) {
    const models: TaskVectorModel[] = this.weights.map((weight, m) => ({ weight, scale: this.scales[m]!, mask: this.masks[m]![slice]! }));
    let div = 0;
    for (const w of this.weights) div = Math.fround(div + Math.fround(w));
    if (Math.abs(div) < 1e-8) div = 1;
    return { kernel: 'tvmerge' as const, consensus: this.cfg.consensus, normalize: bool(this.ctx.params.normalize), div, lambda: this.lambda, models };
  }
}

/** Per-slice masks of one model from its selected values (and their per-slice equal counts). */
function sliceMasks(sel: Selection, values: { v: ExactValue; perSlice: number[] }[], n: number): MaskSpec[] {
  const less = (v: ExactValue) => n - v.above - v.equal;
  if (sel.kind === 'topk') {
    const [{ v, perSlice }] = values as [{ v: ExactValue; perSlice: number[] }];
    return sliceQuotas(perSlice, sel.k - v.above).map((quota) => ({ kind: 'topk', thr: v.bits, quota }));
  }
  const [lo, hi] = values as [{ v: ExactValue; perSlice: number[] }, { v: ExactValue; perSlice: number[] }];
  const drop = sliceQuotas(lo.perSlice, sel.bottom - less(lo.v));
  const keep = sliceQuotas(hi.perSlice, n - sel.top - less(hi.v));
  return drop.map((dropLo, s) => ({ kind: 'window', lo: lo.v.bits, dropLo, hi: hi.v.bits, keepHi: keep[s]! }));
}

function dellaMask(ctx: TensorContext, model: number, density: number, epsilon: number, rowLen: number): MaskSpec {
  if (density >= 1) return { kind: 'none' };
  if (density <= 0) return { kind: 'zero' };
  if (!(density - epsilon > 0 && density + epsilon < 1)) {
    throw new OperatorError(ctx.name, `della needs 0 < density - epsilon and density + epsilon < 1, got density ${density}, epsilon ${epsilon}`);
  }
  return { kind: 'della', key: maskKey(ctx.seed, ctx.name, model), density, epsilon, rowLen };
}

export const taskArithmetic = taskVectorOperator({
  name: 'task_arithmetic',
  summary: 'Base plus the weighted sum of the task vectors.',
  sparsification: 'none',
  consensus: 'sum',
  normalize: false,
  rescale: false,
});

export const ties = taskVectorOperator({
  name: 'ties',
  summary: 'TIES: keep the largest entries of each task vector, elect a sign per entry, average what agrees.',
  sparsification: 'magnitude',
  consensus: 'ties',
  normalize: true,
  rescale: false,
});

export const dareLinear = taskVectorOperator({
  name: 'dare_linear',
  summary: 'DARE: drop task-vector entries at random, rescale, add as task arithmetic.',
  sparsification: 'random',
  consensus: 'sum',
  normalize: false,
  rescale: true,
});

export const dareTies = taskVectorOperator({
  name: 'dare_ties',
  summary: 'DARE sparsification followed by TIES sign election.',
  sparsification: 'random',
  consensus: 'ties',
  normalize: false,
  rescale: true,
});

export const breadcrumbs = taskVectorOperator({
  name: 'breadcrumbs',
  summary: 'Model Breadcrumbs: drop the smallest entries and the largest outliers of each task vector, add.',
  sparsification: 'outliers',
  consensus: 'sum',
  normalize: false,
  rescale: false,
});

export const breadcrumbsTies = taskVectorOperator({
  name: 'breadcrumbs_ties',
  summary: 'Breadcrumbs sparsification followed by TIES sign election.',
  sparsification: 'outliers',
  consensus: 'ties',
  normalize: false,
  rescale: false,
});

export const della = taskVectorOperator({
  name: 'della',
  summary: 'DELLA: keep entries at random with probabilities rising with their magnitude rank, rescale, TIES.',
  sparsification: 'della',
  consensus: 'ties',
  normalize: true,
  rescale: true,
});

export const dellaLinear = taskVectorOperator({
  name: 'della_linear',
  summary: 'DELLA sparsification added as task arithmetic.',
  sparsification: 'della',
  consensus: 'sum',
  normalize: false,
  rescale: true,
});
