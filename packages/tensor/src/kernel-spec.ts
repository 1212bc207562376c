// Serialisable descriptions of what a slice task computes. They travel inside task
// descriptors (to worker threads or, in distributed mode, over NATS) and are interpreted by
// the WebAssembly runtime (wasm-runtime.ts) or the TypeScript reference (reference/).
import type { MaskKey } from './rng.js';

/**
 * DELLA: keep when uniform(e) < density - epsilon + 2 epsilon (r - 1) / (n - 1), r the rank of
 * |d| within its row (ascending, ties by index); resolved into 'probs' on the worker
 */
export type DellaMask = { kind: 'della'; key: MaskKey; density: number; epsilon: number; rowLen: number };

/** How one task vector is sparsified on one slice. Thresholds are f32 bit patterns of |d|. */
export type MaskSpec =
  | { kind: 'none' }
  | { kind: 'zero' }
  /** keep |d| > thr, and the first `quota` elements of this slice with |d| == thr */
  | { kind: 'topk'; thr: number; quota: number }
  /** keep lo < |d| < hi; of |d| == lo drop the first `dropLo`; of |d| == hi keep the first `keepHi` */
  | { kind: 'window'; lo: number; dropLo: number; hi: number; keepHi: number }
  /** keep when uniform(e) < p */
  | { kind: 'bernoulli'; key: MaskKey; p: number }
  /** keep when uniform(e) < p[e - sliceStart] (per-element probabilities of the slice) */
  | { kind: 'probs'; key: MaskKey; probs: Float32Array }
  | DellaMask;

export interface TaskVectorModel {
  weight: number;
  /** rescale factor applied after masking (1 when none) */
  scale: number;
  mask: MaskSpec;
}

export type MergeSpec =
  /** out = Σ w_i x_i over all inputs [/ div] */
  | { kernel: 'linear'; weights: number[]; normalize: boolean; div: number }
  /** out = b + lambda * combine(w_i * scale_i * mask_i(x_i - b)) [/ divisor] */
  | {
      kernel: 'tvmerge';
      consensus: 'sum' | 'ties';
      normalize: boolean;
      /** divisor of the 'sum' consensus (ignored by 'ties', whose divisor is per element) */
      div: number;
      lambda: number;
      models: TaskVectorModel[];
    }
  /** out = t * mean(x_i) + (1 - t) * b; `rowT` gives one t per row of the slice */
  | { kernel: 'stock'; t: number; rowT?: Float32Array; rowLen: number }
  /** model stock with one t per row, computed on the worker from the rows' offsets */
  | { kernel: 'stockRows'; rowLen: number }
  /** SCE: variance top-k mask (threshold on f32 bits of the variance, quota of ties), unweighted sign election, matrix weights */
  | { kernel: 'sce'; select: { thr: number; quota: number } | 'all' | 'none'; weights: number[] }
  /** RAM: entries with |d| > epsilon; unique ones scaled by lambda_i, shared ones averaged */
  | { kernel: 'ram'; epsilon: number; lambdas: number[] }
  /** NearSwap: w = clamp(t / |b - x|, 0, 1); w x + (1 - w) b */
  | { kernel: 'nearswap'; t: number }
  /** Arcee Fusion: b + d where importance(e) >= threshold */
  | { kernel: 'fusion'; threshold: number; rowLen: number }
  /** NuSLERP of two vectors per row ('row', rows inside the slice) or per column ('col', whole tensor in one slice) */
  | { kernel: 'nuslerp'; t: number; axis: 'row' | 'col'; withBase: boolean; rowLen: number };

/** A per-element value derived from all inputs of a slice, ranked by exact radix selection. */
export type DerivedValue =
  /** population variance of the task vectors over the models */
  | { kind: 'variance' }
  /** Arcee Fusion importance: |x - b| times the KL divergence of the rows' softmaxes */
  | { kind: 'importance'; rowLen: number };

export type StatsSpec =
  | { kernel: 'histHi' }
  /** histograms of a derived value: high bits (and the count of exact zeros) */
  | { kernel: 'derivedHi'; value: DerivedValue }
  /** low bits inside the given high bins */
  | { kernel: 'derivedLo'; value: DerivedValue; bins: number[] }
  /** per block and model: sum of squares of the task vector, masked by the SCE variance selection */
  | { kernel: 'sumSquares'; select: { thr: number; quota: number } | 'all' | 'none' }
  /** per model: positions where it is active (|d| > epsilon) and shared, and where it is the only one */
  | { kernel: 'ramCounts'; epsilon: number }
  /** low-16-bit histograms inside one high bin, per entry (a model may appear twice) */
  | { kernel: 'histLo'; entries: { model: number; bin: number }[] }
  | { kernel: 'l1'; masks: MaskSpec[] }
  | { kernel: 'gram'; mode: 'raw' | 'delta' }
  /**
   * per pair of models (i < j): positions where both task vectors are non-zero, where their
   * signs agree there, where both survive their mask (e.g. TIES's top-k), and where those conflict
   */
  | { kernel: 'signs'; masks: MaskSpec[] };

/** Partial results of one stats kernel on one slice. */
export type StatsResult =
  /** per model: the high-bits histogram, and per bin the elements whose low 16 bits are not all zero */
  | { kernel: 'histHi'; hist: Uint32Array[]; impure: Uint32Array[] }
  | { kernel: 'histLo'; hist: Uint32Array[] }
  /** per block, per model: [||d||_1, ||mask(d)||_1] -> blocks[b][2 * model + 0|1] */
  | { kernel: 'l1'; blocks: Float64Array[] }
  /** per block: upper triangle of v_i . v_j */
  | { kernel: 'gram'; blocks: Float64Array[] }
  | { kernel: 'derivedHi'; hist: Uint32Array; zeros: number }
  | { kernel: 'derivedLo'; hist: Uint32Array[] }
  /** per block, per model */
  | { kernel: 'sumSquares'; blocks: Float64Array[] }
  /** per model: [shared, unique] */
  | { kernel: 'ramCounts'; counts: number[][] }
  /** 4 counts per pair (i < j, row-major): [both non-zero, agreeing, both kept, kept and conflicting] */
  | { kernel: 'signs'; counts: Float64Array };

/** How the inputs of a slice are rounded before the kernel runs (the recipe's `dtype`). */
export type InputRounding = 'BF16' | 'F16' | 'F32' | 'F64' | undefined;
