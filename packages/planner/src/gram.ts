// Upper-triangular Gram matrices as the gram stats kernel returns them (row-major, i <= j), and
// the per-pair count vectors of the signs kernel (i < j, 4 counts each).

/** Index of (i, j), i <= j, in the upper triangle of a v × v matrix. */
export function tri(v: number, i: number, j: number): number {
  const [a, b] = i <= j ? [i, j] : [j, i];
  return a * v - (a * (a - 1)) / 2 + (b - a);
}

/** Index of the first count of pair (i, j), i < j, among k models. */
export function pair(k: number, i: number, j: number): number {
  const [a, b] = i < j ? [i, j] : [j, i];
  return 4 * (a * k - (a * (a + 1)) / 2 + (b - a - 1));
}

/** Number of entries of the upper triangle of a v × v matrix. */
export const triSize = (v: number) => (v * (v + 1)) / 2;

/** Element-wise sum into `into` (grown to `from`'s length). */
export function addInto(into: Float64Array, from: Float64Array): void {
  for (let i = 0; i < from.length; i++) into[i] = into[i]! + from[i]!;
}
