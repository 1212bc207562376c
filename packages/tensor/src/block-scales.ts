// Block-scaled weights (FP8 checkpoints such as DeepSeek-V3's): each block of block[0] rows ×
// block[1] columns of a 2-D weight has one scale, and a value is its stored number times its
// block's scale. A slice carries the scale rows its elements fall in.

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
