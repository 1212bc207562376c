// Operators with their own per-element rules: SCE, RAM, NearSwap, Arcee Fusion, passthrough.
import type { DerivedValue, MergeSpec, StatsResult } from '../kernel-spec.js';
import { sumBlocks } from '../gram.js';
import { HIST_HI_BINS, HIST_LO_BINS } from '../layout.js';
import { type ExactValue, type HighBin, highBinAtRank, sliceQuotas, sumHistograms, valueAtRank } from '../topk.js';
import { type Operator, type TensorContext, type TensorProgram, direct, num } from './types.js';

/**
 * Exact values of a derived per-element quantity at given descending ranks, over the whole
 * tensor: a high-bits pass, then a low-bits pass inside the bins found.
 */
class DerivedRanks {
  highs: HighBin[] = [];
  bins: number[] = [];
  values: { v: ExactValue; perSlice: number[] }[] = [];
  zeros = 0;
  private rankList: number[] = [];
  constructor(
    readonly value: DerivedValue,
    public ranks: (total: number) => number[],
  ) {}

  high(results: StatsResult[]): boolean {
    const parts = results.map((r) => (r.kernel === 'derivedHi' ? r.hist : new Uint32Array(0)));
    this.zeros = results.reduce((s, r) => s + (r.kernel === 'derivedHi' ? r.zeros : 0), 0);
    const total = sumHistograms(parts, HIST_HI_BINS);
    const ranks = this.ranks(this.zeros);
    if (ranks.length === 0) return false;
    this.highs = ranks.map((rank) => highBinAtRank(total, rank));
    this.bins = [...new Set(this.highs.map((h) => h.bin))];
    this.rankList = ranks;
    return true;
  }

  low(results: StatsResult[]): void {
    this.values = this.rankList.map((rank, j) => {
      const high = this.highs[j]!;
      const i = this.bins.indexOf(high.bin);
      const parts = results.map((r) => (r.kernel === 'derivedLo' ? r.hist[i]! : new Uint32Array(0)));
      const v = valueAtRank(high, sumHistograms(parts, HIST_LO_BINS), rank);
      return { v, perSlice: parts.map((h) => h[v.low]!) };
    });
  }
}

const f32 = new Float32Array(1),
  u32 = new Uint32Array(f32.buffer);
const valueOfBits = (bits: number) => {
  u32[0] = bits;
  return f32[0]!;
};

export const sce: Operator = {
  name: 'sce',
  embeddings: 'base-rows',
  summary: 'SCE: keep the positions where the task vectors vary most, weight each model by its energy, merge what agrees in sign.',
  base: 'required',
  models: { min: 1 },
  params: [
    {
      name: 'select_topk',
      scope: 'global',
      type: 'number',
      default: 1,
      range: { min: 0, max: 1 },
      doc: 'fraction of the positions (of non-zero variance) kept',
    },
    { name: 'int8_mask', scope: 'global', type: 'boolean', default: false, doc: 'accepted for compatibility; no effect on the numbers' },
  ],
  slicing: () => 'block',
  program: (ctx) => new SceProgram(ctx),
};

class SceProgram implements TensorProgram {
  private stage: 'hi' | 'lo' | 'sq' | 'done';
  private select: ({ thr: number; quota: number } | 'all' | 'none')[];
  private readonly ranks: DerivedRanks;
  private weights: number[] = [];
  private readonly k: number;

  constructor(private readonly ctx: TensorContext) {
    this.k = num(ctx.params.select_topk);
    this.select = ctx.slices.map(() => 'all');
    this.ranks = new DerivedRanks({ kind: 'variance' }, (zeros) => {
      const k = Math.floor(this.k * (ctx.numel - zeros));
      return k > 0 ? [k] : [];
    });
    this.stage = this.k < 1 ? 'hi' : 'sq';
  }

  nextStats() {
    switch (this.stage) {
      case 'hi':
        return () => ({ kernel: 'derivedHi' as const, value: this.ranks.value });
      case 'lo':
        return () => ({ kernel: 'derivedLo' as const, value: this.ranks.value, bins: this.ranks.bins });
      case 'sq':
        return (s: number) => ({ kernel: 'sumSquares' as const, select: this.select[s]! });
      case 'done':
        return null;
    }
  }

  reduce(results: StatsResult[]): void {
    if (this.stage === 'hi') {
      if (this.ranks.high(results)) {
        this.stage = 'lo';
        return;
      }
      this.select = this.ctx.slices.map(() => 'none');
      this.stage = 'sq';
      return;
    }
    if (this.stage === 'lo') {
      this.ranks.low(results);
      const [{ v, perSlice }] = this.ranks.values as [{ v: ExactValue; perSlice: number[] }];
      const k = Math.floor(this.k * (this.ctx.numel - this.ranks.zeros));
      this.select = sliceQuotas(perSlice, k - v.above).map((quota) => ({ thr: v.bits, quota }));
      this.stage = 'sq';
      return;
    }
    const models = this.ctx.inputs.length - 1;
    const sums = sumBlocks(
      results.flatMap((r) => (r.kernel === 'sumSquares' ? r.blocks : [])),
      models,
    );
    const means = Array.from(sums, (s) => s / this.ctx.numel);
    const total = means.reduce((a, b) => a + b, 0);
    this.weights = total < 1e-6 ? means.map(() => 1 / models) : means.map((m) => m / total);
    this.stage = 'done';
  }

  merge(slice: number): MergeSpec {
    return { kernel: 'sce', select: this.select[slice]!, weights: this.weights };
  }
}

const ramParams = [
  { name: 'epsilon', scope: 'global', type: 'number', default: 1e-5, range: { min: 0 }, doc: 'an entry counts as changed when |d| > epsilon' },
] as const;

export const ram: Operator = {
  name: 'ram',
  embeddings: 'base-rows',
  summary: 'RAM: add the task-vector entries only one model changes, average those several models change.',
  base: 'required',
  models: { min: 1 },
  params: [...ramParams],
  slicing: () => 'block',
  program: (ctx) => direct(() => ({ kernel: 'ram', epsilon: num(ctx.params.epsilon), lambdas: ctx.inputs.slice(1).map(() => 1) })),
};

export const ramplusTl: Operator = {
  name: 'ramplus_tl',
  embeddings: 'base-rows',
  summary: "RAM+ (tensor-local): as RAM, with each model's unique entries scaled up by how much it overlaps others.",
  base: 'required',
  models: { min: 1 },
  params: [
    ...ramParams,
    { name: 'r', scope: 'global', type: 'number', default: 0.1, doc: 'strength of the rescaling' },
    { name: 'alpha', scope: 'global', type: 'number', default: 0.2, range: { min: 0 }, doc: 'cap of the overlap ratio' },
  ],
  slicing: () => 'block',
  program(ctx) {
    const eps = num(ctx.params.epsilon),
      r = num(ctx.params.r),
      alpha = num(ctx.params.alpha);
    let lambdas: number[] | undefined;
    return {
      nextStats: () => (lambdas ? null : () => ({ kernel: 'ramCounts', epsilon: eps })),
      reduce(results) {
        const counts = ctx.inputs.slice(1).map(() => [0, 0]);
        for (const res of results)
          if (res.kernel === 'ramCounts')
            res.counts.forEach((c, k) => {
              counts[k]![0]! += c[0]!;
              counts[k]![1]! += c[1]!;
            });
        lambdas = counts.map(([shared, unique]) => 1 + r * Math.min(alpha, Math.max(0, shared! / Math.max(unique!, eps))));
      },
      merge: () => ({ kernel: 'ram', epsilon: eps, lambdas: lambdas! }),
    };
  },
};

export const nearswap: Operator = {
  name: 'nearswap',
  embeddings: 'base-rows',
  summary: 'NearSwap: take the model where it is within t of the base, blend toward the base where it is farther.',
  base: 'required',
  models: { min: 1, max: 1 },
  params: [{ name: 't', scope: 'global', type: 'number', range: { min: 0, minExclusive: true }, doc: 'similarity threshold' }],
  slicing: () => 'block',
  program: (ctx) => direct(() => ({ kernel: 'nearswap', t: num(ctx.params.t) })),
};

export const arceeFusion: Operator = {
  name: 'arcee_fusion',
  embeddings: 'common-rows',
  summary: "Arcee Fusion: take the model's changes whose importance (|d| times the rows' softmax divergence) is an outlier.",
  base: 'required',
  models: { min: 1, max: 1 },
  params: [],
  slicing: () => 'row',
  program(ctx) {
    const n = ctx.numel;
    const rowLen = ctx.shape.length > 1 ? ctx.shape[ctx.shape.length - 1]! : Math.max(1, n);
    // quantile q is sorted[floor(q (n - 1))]: descending rank n - floor(q (n - 1))
    const ranks = new DerivedRanks({ kind: 'importance', rowLen }, () => [0.25, 0.5, 0.75].map((q) => n - Math.floor(q * (n - 1))));
    let stage: 'hi' | 'lo' | 'done' = 'hi';
    let threshold = 0;
    return {
      nextStats: () =>
        stage === 'hi'
          ? () => ({ kernel: 'derivedHi', value: ranks.value })
          : stage === 'lo'
            ? () => ({ kernel: 'derivedLo', value: ranks.value, bins: ranks.bins })
            : null,
      reduce(results) {
        if (stage === 'hi') {
          ranks.high(results);
          stage = 'lo';
          return;
        }
        ranks.low(results);
        const [q1, median, q3] = ranks.values.map((x) => valueOfBits(x.v.bits)) as [number, number, number];
        threshold = Math.fround(median + Math.fround(1.5 * Math.fround(q3 - q1)));
        stage = 'done';
      },
      merge: () => ({ kernel: 'fusion', threshold, rowLen }),
    };
  },
};

export const passthrough: Operator = {
  name: 'passthrough',
  embeddings: 'refuse',
  summary: 'Copy the one input tensor (optionally scaled); with slices, stack layer ranges of several models.',
  base: 'none',
  models: { min: 1, max: 1 },
  params: [{ name: 'scale', scope: 'model', type: 'number', default: 1, doc: 'factor applied to the tensor' }],
  slicing: () => 'block',
  program: (ctx) => direct(() => ({ kernel: 'linear', weights: [num(ctx.inputs[0]!.params.scale)], normalize: false, div: 1 })),
};
