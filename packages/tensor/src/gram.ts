// Helpers on Gram matrices stored as the row-major upper triangle (i <= j) of v_i . v_j.
import { F32 } from './reference/precision.js';
import { referenceStats } from './kernels.js';

/** Position of (i, j), i <= j, in the upper triangle of an n × n matrix. */
export function triIndex(n: number, i: number, j: number): number {
  return i * n - (i * (i - 1)) / 2 + (j - i);
}

/** Sums per-block partials in block order (the fixed order that makes results slicing-invariant). */
export function sumBlocks(blocks: Float64Array[], width: number): Float64Array {
  const total = new Float64Array(width);
  for (const b of blocks) for (let q = 0; q < width; q++) total[q] = total[q]! + b[q]!;
  return total;
}

/** Model stock's interpolation factor t from the Gram matrix of the task vectors. */
export function modelStockT(gram: Float64Array, n: number): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const norms = Math.sqrt(gram[triIndex(n, i, i)]!) * Math.sqrt(gram[triIndex(n, j, j)]!);
      sum += Math.min(1, Math.max(-1, gram[triIndex(n, i, j)]! / Math.max(norms, 1e-6)));
      pairs++;
    }
  }
  const cos = sum / pairs;
  return (n * cos) / (1 + (n - 1) * cos);
}

/** Per-row model stock t (row-wise Gram of the task vectors, rows entirely inside the slice). */
export function rowStockT(values: Float64Array[], n: number, rowLen: number): Float32Array {
  const rows = Math.ceil(n / rowLen);
  const t = new Float32Array(rows);
  for (let row = 0; row < rows; row++) {
    const part = values.map((v) => v.subarray(row * rowLen, Math.min(n, (row + 1) * rowLen)));
    const g = referenceStats({ kernel: 'gram', mode: 'delta' }, part, part[0]!.length, 0, F32);
    if (g.kernel !== 'gram') throw new Error('gram kernel expected');
    t[row] = modelStockT(sumBlocks(g.blocks, g.blocks[0]!.length), values.length - 1);
  }
  return t;
}
