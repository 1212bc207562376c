// How a tensor is cut into slices: contiguous element ranges whose starts are multiples of the
// reduction block (so block sums never straddle two tasks) and, for row-wise operators, of the
// row length. The maximum slice size comes from the memory budget.
import { BLOCK } from './layout.js';
import type { SliceRange, Slicing } from './ops/types.js';

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** The granularity of slice boundaries, in elements. */
export function sliceQuantum(rowLen: number, slicing: Slicing): number {
  if (slicing === 'block' || rowLen <= 1) return BLOCK;
  return (BLOCK / gcd(BLOCK, rowLen)) * rowLen;
}

/** Cuts `numel` elements into slices of at most `maxElems` (rounded to the quantum, at least one). */
export function planSlices(numel: number, maxElems: number, rowLen = 1, slicing: Slicing = 'block'): SliceRange[] {
  if (slicing === 'whole') return [{ elemStart: 0, n: numel }];
  const q = sliceQuantum(rowLen, slicing);
  const size = Math.max(q, Math.floor(maxElems / q) * q);
  const slices: SliceRange[] = [];
  for (let start = 0; start < numel || slices.length === 0; start += size) {
    slices.push({ elemStart: start, n: Math.min(size, numel - start) });
  }
  return slices;
}
