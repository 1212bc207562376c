// Exact order statistics of |d| over a whole tensor from per-slice radix histograms (f32 bit
// patterns: 15 high bits, then 16 low bits inside one high bin). Ties are broken by element
// index, so the selection never depends on how the tensor was sliced.
import { HIST_HI_BINS, HIST_LO_BINS } from './layout.js';

/** Adds per-slice histograms (counts may exceed 2^32 in total, hence float64). */
export function sumHistograms(parts: Uint32Array[], bins: number): Float64Array {
  const total = new Float64Array(bins);
  for (const h of parts) for (let i = 0; i < bins; i++) total[i] = total[i]! + h[i]!;
  return total;
}

export interface HighBin {
  bin: number;
  /** elements in higher bins */
  above: number;
}

/** The high bin holding the element of descending rank `rank` (1 = largest). */
export function highBinAtRank(hist: Float64Array, rank: number): HighBin {
  let above = 0;
  for (let bin = HIST_HI_BINS - 1; bin >= 0; bin--) {
    const c = hist[bin]!;
    if (above + c >= rank) return { bin, above };
    above += c;
  }
  throw new RangeError(`rank ${rank} exceeds the element count ${above}`);
}

export interface ExactValue {
  /** f32 bit pattern of |d| */
  bits: number;
  /** elements with a larger |d| */
  above: number;
  /** elements with exactly this |d| */
  equal: number;
  /** index of the low bin (to read per-slice equal counts from the slices' low histograms) */
  low: number;
}

/** The exact value of descending rank `rank`, given its high bin and the low histogram inside it. */
export function valueAtRank(high: HighBin, low: Float64Array, rank: number): ExactValue {
  let above = high.above;
  for (let lo = HIST_LO_BINS - 1; lo >= 0; lo--) {
    const c = low[lo]!;
    if (above + c >= rank) return { bits: ((high.bin << 16) | lo) >>> 0, above, equal: c, low: lo };
    above += c;
  }
  throw new RangeError(`rank ${rank} not inside high bin ${high.bin}`);
}

/**
 * Splits a count over the slices in order: slice s gets what is left after the equal elements
 * of the slices before it (negative means none). Kernels consume it element by element.
 */
export function sliceQuotas(equalPerSlice: number[], total: number): number[] {
  let before = 0;
  return equalPerSlice.map((eq) => {
    const q = Math.max(0, total - before);
    before += eq;
    return q;
  });
}
