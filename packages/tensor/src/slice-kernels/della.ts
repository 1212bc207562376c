// DELLA keep probabilities: within each row, rank |d| ascending (ties by index) and map the
// rank linearly onto [density - epsilon, density + epsilon].
import type { Round } from '../reference/precision.js';
import { bitsOf } from './derived.js';

/** The key of every NaN |d| (NaNs rank above Inf, in index order among themselves). */
const NAN_BITS = 0x7fc00000;
const keyOf = (bits: number) => (bits > 0x7f800000 ? NAN_BITS : bits);

export function dellaProbs(base: Float64Array, x: Float64Array, n: number, rowLen: number, density: number, epsilon: number, r: Round): Float32Array {
  const probs = new Float32Array(n);
  const keys = new Float64Array(rowLen);
  for (let start = 0; start < n; start += rowLen) {
    const len = Math.min(rowLen, n - start);
    const k = keys.subarray(0, len);
    // key = |d| bits (31 bits, every NaN as one) then index (up to 2^21 per row): exact in a double
    for (let j = 0; j < len; j++) k[j] = keyOf(bitsOf(r(x[start + j]! - base[start + j]!))) * 2097152 + j;
    k.sort();
    const lo = density - epsilon,
      span = 2 * epsilon;
    for (let rank = 0; rank < len; rank++) {
      const j = k[rank]! % 2097152;
      probs[start + j] = lo + span * (len > 1 ? rank / (len - 1) : 0);
    }
  }
  return probs;
}
