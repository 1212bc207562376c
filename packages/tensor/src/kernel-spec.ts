// Serialisable descriptions of what a slice task computes. They travel inside task
// descriptors (to worker threads or, in distributed mode, over NATS) and are interpreted by
// the WebAssembly runtime (wasm-runtime.ts) or the TypeScript reference (reference/).
import type { MaskKey } from './rng.js';

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
  | { kind: 'probs'; key: MaskKey; probs: Float32Array };

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
  | { kernel: 'stockRows'; rowLen: number };

export type StatsSpec =
  | { kernel: 'histHi' }
  /** low-16-bit histograms inside one high bin, per entry (a model may appear twice) */
  | { kernel: 'histLo'; entries: { model: number; bin: number }[] }
  | { kernel: 'l1'; masks: MaskSpec[] }
  | { kernel: 'gram'; mode: 'raw' | 'delta' };

/** Partial results of one stats kernel on one slice. */
export type StatsResult =
  | { kernel: 'histHi'; hist: Uint32Array[] }
  | { kernel: 'histLo'; hist: Uint32Array[] }
  /** per block, per model: [||d||_1, ||mask(d)||_1] -> blocks[b][2 * model + 0|1] */
  | { kernel: 'l1'; blocks: Float64Array[] }
  /** per block: upper triangle of v_i . v_j */
  | { kernel: 'gram'; blocks: Float64Array[] };

/** How the inputs of a slice are rounded before the kernel runs (the recipe's `dtype`). */
export type InputRounding = 'BF16' | 'F16' | 'F32' | 'F64' | undefined;
