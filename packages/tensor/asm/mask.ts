// Sparsification masks applied to one chunk of a task vector, shared by the merge and the
// stats kernels. A mask's arguments are 6 slots at `slot` in the argument block; the
// tie quotas live in those slots and are consumed in element order as chunks go by.
import { CH } from './codec';
import { uniform4 } from './rng';

export const MASK_NONE: i32 = 0;
export const MASK_TOPK: i32 = 1; // keep |d| > T, and the first q elements with |d| == T
export const MASK_WINDOW: i32 = 2; // keep L < |d| < H; of |d| == L drop the first q_L; of |d| == H keep the first q_H
export const MASK_BERNOULLI: i32 = 3; // keep when u(e) < p
export const MASK_PROBS: i32 = 4; // keep when u(e) < p_e (p_e from an f32 array)
export const MASK_ZERO: i32 = 5; // keep nothing

function quotaKeep(slot: usize, q: i32, eq: v128, keep: v128, keepFirst: bool): v128 {
  // Lanes equal to the threshold are decided one by one in element order.
  const at = slot + (<usize>q << 3);
  let remaining = load<f64>(at);
  if (remaining <= 0 && keepFirst) return keep;
  let k0 = i32x4.extract_lane(keep, 0), k1 = i32x4.extract_lane(keep, 1);
  let k2 = i32x4.extract_lane(keep, 2), k3 = i32x4.extract_lane(keep, 3);
  if (i32x4.extract_lane(eq, 0) != 0) { const t = remaining > 0; remaining -= t ? 1 : 0; k0 = (t == keepFirst) ? -1 : 0; }
  if (i32x4.extract_lane(eq, 1) != 0) { const t = remaining > 0; remaining -= t ? 1 : 0; k1 = (t == keepFirst) ? -1 : 0; }
  if (i32x4.extract_lane(eq, 2) != 0) { const t = remaining > 0; remaining -= t ? 1 : 0; k2 = (t == keepFirst) ? -1 : 0; }
  if (i32x4.extract_lane(eq, 3) != 0) { const t = remaining > 0; remaining -= t ? 1 : 0; k3 = (t == keepFirst) ? -1 : 0; }
  store<f64>(at, remaining);
  return i32x4(k0, k1, k2, k3);
}

// Applies the mask to d (4 lanes of one chunk at global element index e) and returns it.
@inline export function applyMask(kind: i32, slot: usize, d: v128, e: u64, j: i32): v128 {
  if (kind == MASK_NONE) return d;
  if (kind == MASK_ZERO) return f32x4.splat(0);
  if (kind == MASK_TOPK) {
    const a = v128.and(d, i32x4.splat(0x7fffffff));
    const t = i32x4.splat(<i32>load<f64>(slot));
    let keep = i32x4.gt_s(a, t);
    const eq = i32x4.eq(a, t);
    if (v128.any_true(eq)) keep = quotaKeep(slot, 1, eq, keep, true);
    return v128.and(d, keep);
  }
  if (kind == MASK_WINDOW) {
    const a = v128.and(d, i32x4.splat(0x7fffffff));
    const lo = i32x4.splat(<i32>load<f64>(slot));
    const hi = i32x4.splat(<i32>load<f64>(slot, 16));
    let keep = v128.and(i32x4.gt_s(a, lo), i32x4.lt_s(a, hi));
    const eqLo = v128.andnot(i32x4.eq(a, lo), i32x4.eq(a, hi));
    if (v128.any_true(eqLo)) keep = v128.or(keep, v128.and(eqLo, quotaKeep(slot, 1, eqLo, i32x4.splat(0), false)));
    const eqHi = i32x4.eq(a, hi);
    if (v128.any_true(eqHi)) {
      // lo == hi: an element must survive both cuts
      let k = quotaKeep(slot, 3, eqHi, i32x4.splat(0), true);
      const both = v128.and(eqHi, i32x4.eq(a, lo));
      if (v128.any_true(both)) k = v128.and(k, v128.or(v128.not(both), quotaKeep(slot, 1, both, i32x4.splat(0), false)));
      keep = v128.or(keep, v128.and(eqHi, k));
    }
    return v128.and(d, keep);
  }
  const k0 = <u32>load<f64>(slot), k1 = <u32>load<f64>(slot, 8);
  const u = uniform4(e, k0, k1);
  let p: v128;
  if (kind == MASK_BERNOULLI) p = f32x4.splat(<f32>load<f64>(slot, 16));
  else p = v128.load(<usize>load<f64>(slot, 16) + (<usize>j << 2));
  return v128.and(d, f32x4.lt(u, p));
}

export { CH };
