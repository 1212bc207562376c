// Block-scaled weights (FP8 checkpoints such as DeepSeek-V3's): each block of block[0] rows ×
// block[1] columns of a 2-D weight has one scale, and a value is its stored number times its
// block's scale. A slice carries the scale rows its elements fall in.

import { fp8Bits } from './fp8.js';

export interface BlockScales {
  /** the scale rows the slice covers, row-major, `scaleCols` per row */
  values: Float32Array;
  /** the block row of values[0] */
  firstBlockRow: number;
  /** the slice's first element in the tensor, and the tensor's columns */
  elemStart: number;
  cols: number;
  scaleCols: number;
  block: readonly [number, number];
}

/** The block rows of a weight (`cols` columns) that the elements [elemStart, elemStart + n) fall in. */
export function blockRowsOf(elemStart: number, n: number, cols: number, blockRows: number): { first: number; count: number } {
  const first = Math.floor(Math.floor(elemStart / cols) / blockRows);
  const last = Math.floor(Math.floor((elemStart + n - 1) / cols) / blockRows);
  return { first, count: last - first + 1 };
}

/** Multiplies a slice's decoded values by their blocks' scales, in place (a Float32Array rounds each product to float32). */
export function applyBlockScales(x: Float64Array | Float32Array, n: number, s: BlockScales): void {
  const [br, bc] = s.block;
  let j = 0;
  while (j < n) {
    const e = s.elemStart + j;
    const r = Math.floor(e / s.cols);
    const rowEnd = Math.min(n, j + (s.cols - (e - r * s.cols)));
    const scaleRow = (Math.floor(r / br) - s.firstBlockRow) * s.scaleCols;
    for (let c = e - r * s.cols; j < rowEnd; j++, c++) x[j] = x[j]! * s.values[scaleRow + Math.floor(c / bc)]!;
  }
}

/** E4M3's largest finite value: a block's scale maps its largest magnitude onto it. */
const E4M3_MAX = 448;

/**
 * Quantises whole block rows of a 2-D weight (`cols` columns, slice starting at a block row) to
 * E4M3 with one scale per block, as DeepSeek's weight quantiser does: scale = float32(block max
 * |x| / 448), stored value = e4m3(float32(x / scale)) (round to nearest even, saturating). An
 * all-zero block gets scale 1.
 */
export function quantizeBlocks(x: Float32Array, cols: number, block: readonly [number, number]): { bytes: Uint8Array; scales: Float32Array } {
  const [br, bc] = block;
  const rows = x.length / cols;
  const scaleRows = Math.ceil(rows / br),
    scaleCols = Math.ceil(cols / bc);
  const scales = new Float32Array(scaleRows * scaleCols);
  for (let r = 0; r < rows; r++) {
    const s = Math.floor(r / br) * scaleCols;
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(x[r * cols + c]!);
      const k = s + Math.floor(c / bc);
      if (a > scales[k]!) scales[k] = a;
    }
  }
  for (let k = 0; k < scales.length; k++) scales[k] = scales[k] === 0 ? 1 : Math.fround(scales[k]! / E4M3_MAX);
  const bytes = new Uint8Array(x.length);
  for (let r = 0; r < rows; r++) {
    const s = Math.floor(r / br) * scaleCols;
    for (let c = 0; c < cols; c++) bytes[r * cols + c] = fp8Bits(Math.fround(x[r * cols + c]! / scales[s + Math.floor(c / bc)]!), 'F8_E4M3');
  }
  return { bytes, scales };
}
