/** Elements per reduction block: sums are float64 per block, combined in block order. */
export const BLOCK = 1 << 20;

/** Elements per kernel chunk (the f32 scratch of one chunk is 8 KiB). */
export const CHUNK = 2048;

/** Number of bins of the first radix pass (high 16 bits of |x| as f32, sign cleared). */
export const HIST_HI_BINS = 1 << 15;

/** Number of bins of the second radix pass (low 16 bits inside one high bin). */
export const HIST_LO_BINS = 1 << 16;

/** Element counts are padded to a multiple of this for the SIMD kernels. */
export const PAD = 8;

export function padded(n: number): number {
  return Math.ceil(n / PAD) * PAD;
}

export function blockCount(n: number): number {
  return Math.max(1, Math.ceil(n / BLOCK));
}
