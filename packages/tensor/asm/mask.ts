// Sparsification masks applied to one chunk of a task vector, shared by the merge and the
// stats kernels. A mask's arguments are slots m0.. at `slot` (kernel-slots.json `masks`); the
// tie quotas live in those slots and are consumed in element order as chunks go by.
import * as S from './generated/slots';
import { uniform4 } from './rng';

export const MASK_NONE: i32 = 0;
export const MASK_TOPK: i32 = 1; // keep |d| > T, and the first q elements with |d| == T
export const MASK_WINDOW: i32 = 2; // keep L < |d| < H; of |d| == L drop the first q_L; of |d| == H keep the first q_H
export const MASK_BERNOULLI: i32 = 3; // keep when u(e) < p
export const MASK_PROBS: i32 = 4; // keep when u(e) < p_e (p_e from an f32 array)
const MASK_ZERO: i32 = 5; // keep nothing

function quotaKeep(slot: usize, q: i32, eq: v128, keep: v128, keepFirst: bool): v128 {
  // Lanes equal to the threshold are decided one by one in element order.
  const at = slot + (<usize>q << 3);
  let remaining = load<f64>(at);
  if (remaining <= 0) return keepFirst ? keep : v128.or(keep, eq); // no quota left: none taken
  const count = <f64>popcnt(i32x4.bitmask(eq));
  if (remaining >= count) { // every equal lane takes a unit of quota
    store<f64>(at, remaining - count);
    return keepFirst ? v128.or(keep, eq) : keep;
  }
  let k0 = i32x4.extract_lane(keep, 0), k1 = i32x4.extract_lane(keep, 1);
  let k2 = i32x4.extract_lane(keep, 2), k3 = i32x4.extract_lane(keep, 3);
  if (i32x4.extract_lane(eq, 0) != 0) { const t = remaining > 0; remaining -= t ? 1 : 0; k0 = (t == keepFirst) ? -1 : 0; }
  if (i32x4.extract_lane(eq, 1) != 0) { const t = remaining > 0; remaining -= t ? 1 : 0; k1 = (t == keepFirst) ? -1 : 0; }
  if (i32x4.extract_lane(eq, 2) != 0) { const t = remaining > 0; remaining -= t ? 1 : 0; k2 = (t == keepFirst) ? -1 : 0; }
  if (i32x4.extract_lane(eq, 3) != 0) { const t = remaining > 0; remaining -= t ? 1 : 0; k3 = (t == keepFirst) ? -1 : 0; }
  store<f64>(at, remaining);
  return i32x4(k0, k1, k2, k3);
}

// Compile-time markers of the mask kinds: generic code instantiated with a marker is
// specialised before optimisation (a runtime constant would be folded back into one loop).
export type KNone = u8;
export type KTopk = u16;
export type KBernoulli = u32;
export type KWindow = u64;
export type KProbs = f32;
export type KZero = f64;


/** Mask slot i (an index of kernel-slots.json `masks`). */
@inline function slotValue(slot: usize, i: i32): f64 {
  return load<f64>(slot + (<usize>i << 3));
}

/** The first two mask slots as integers (keys, thresholds), read once per chunk by callers. */
@inline export function maskWord(slot: usize, i: i32): u32 {
  return <u32>load<f64>(slot + (<usize>i << 3));
}

// Applies the mask of kind K to d (4 lanes of one chunk at global element index e); w0 and w1
// are maskWord(slot, 0) and maskWord(slot, 1), pv the third slot splatted as f32.
@inline export function applyMaskK<K>(slot: usize, d: v128, e: u64, j: i32, w0: u32, w1: u32, pv: v128): v128 {
  if (isFloat<K>()) {
    if (sizeof<K>() == 4) return applyMask(MASK_PROBS, slot, d, e, j);
    return f32x4.splat(0);
  }
  if (sizeof<K>() == 1) return d;
  if (sizeof<K>() == 2) return applyMask(MASK_TOPK, slot, d, e, j);
  if (sizeof<K>() == 4) return v128.and(d, f32x4.lt(uniform4(e, w0, w1), pv));
  return applyMask(MASK_WINDOW, slot, d, e, j);
}

// Applies the mask to d (4 lanes of one chunk at global element index e) and returns it.
@inline function applyMask(kind: i32, slot: usize, d: v128, e: u64, j: i32): v128 {
  if (kind == MASK_NONE) return d;
  if (kind == MASK_ZERO) return f32x4.splat(0);
  if (kind == MASK_TOPK) {
    const a = v128.and(d, i32x4.splat(0x7fffffff));
    const t = i32x4.splat(<i32>slotValue(slot, S.MASK_TOPK_THR));
    let keep = i32x4.gt_s(a, t);
    const eq = i32x4.eq(a, t);
    if (v128.any_true(eq)) keep = quotaKeep(slot, S.MASK_TOPK_QUOTA, eq, keep, true);
    return v128.and(d, keep);
  }
  if (kind == MASK_WINDOW) {
    const a = v128.and(d, i32x4.splat(0x7fffffff));
    const lo = i32x4.splat(<i32>slotValue(slot, S.MASK_WINDOW_LO));
    const hi = i32x4.splat(<i32>slotValue(slot, S.MASK_WINDOW_HI));
    let keep = v128.and(i32x4.gt_s(a, lo), i32x4.lt_s(a, hi));
    const eqLo = v128.andnot(i32x4.eq(a, lo), i32x4.eq(a, hi));
    if (v128.any_true(eqLo)) keep = v128.or(keep, v128.and(eqLo, quotaKeep(slot, S.MASK_WINDOW_DROP_LO, eqLo, i32x4.splat(0), false)));
    const eqHi = i32x4.eq(a, hi);
    if (v128.any_true(eqHi)) {
      // lo == hi: an element must survive both cuts
      let k = quotaKeep(slot, S.MASK_WINDOW_KEEP_HI, eqHi, i32x4.splat(0), true);
      const both = v128.and(eqHi, i32x4.eq(a, lo));
      if (v128.any_true(both)) k = v128.and(k, v128.or(v128.not(both), quotaKeep(slot, S.MASK_WINDOW_DROP_LO, both, i32x4.splat(0), false)));
      keep = v128.or(keep, v128.and(eqHi, k));
    }
    return v128.and(d, keep);
  }
  // bernoulli and probs share the key slots
  const k0 = <u32>slotValue(slot, S.MASK_BERNOULLI_KEY0), k1 = <u32>slotValue(slot, S.MASK_BERNOULLI_KEY1);
  const u = uniform4(e, k0, k1);
  let p: v128;
  if (kind == MASK_BERNOULLI) p = f32x4.splat(<f32>slotValue(slot, S.MASK_BERNOULLI_P));
  else p = v128.load(<usize>slotValue(slot, S.MASK_PROBS_PROBS) + (<usize>j << 2));
  return v128.and(d, f32x4.lt(u, p));
}

