// Counter-based uniform numbers for random masks: u(e) depends only on (k0, k1) — derived by
// the host from (seed, tensor name, model index) — and the element index e = hi * 2^32 + lo.
// Mirrors src/rng.ts exactly.

@inline export function fmix(h: v128): v128 {
  h = v128.xor(h, i32x4.shr_u(h, 16));
  h = i32x4.mul(h, i32x4.splat(0x85ebca6b));
  h = v128.xor(h, i32x4.shr_u(h, 13));
  h = i32x4.mul(h, i32x4.splat(0xc2b2ae35));
  return v128.xor(h, i32x4.shr_u(h, 16));
}

@inline function fmix1(h: u32): u32 {
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  return h ^ (h >>> 16);
}

export const GOLDEN: i32 = 0x9e3779b1;

/** The key of the elements whose index has high word e >>> 32 (uniform4's first step). */
@inline export function laneKey(e: u64, k0: u32, k1: u32): u32 {
  return k0 ^ fmix1(<u32>(e >>> 32) * 0x85ebca77 ^ k1);
}

// The 24-bit integers behind uniform4 (u = bits * 2^-24), given the low words of the indices
// already multiplied by GOLDEN (loG): a loop advances loG by 4 * GOLDEN per 4 elements.
@inline export function bits4(loG: v128, key: v128): v128 {
  return i32x4.shr_u(fmix(v128.xor(loG, key)), 8);
}

// The uniforms in [0, 1) of bits4's integers.
@inline export function uniformOf(bits: v128): v128 {
  return f32x4.mul(f32x4.convert_i32x4_u(bits), f32x4.splat(5.9604644775390625e-8));
}

// u < p as a comparison of bits4 (exact: u * 2^24 is the integer bits, so u < p iff
// bits < ceil(p * 2^24)); none kept for p <= 0 or NaN, all for p >= 1.
@inline export function bitsBelow(p: f32): i32 {
  if (!(p > 0)) return 0;
  if (p >= 1) return 1 << 24;
  return <i32>Math.ceil(<f64>p * 16777216.0);
}

// Uniforms in [0, 1) with 24 bits for the 4 consecutive elements starting at e (e % 4 == 0).
// The high word of e is folded into the key (one scalar mix), the low word mixed per lane.
@inline export function uniform4(e: u64, k0: u32, k1: u32): v128 {
  const key = laneKey(e, k0, k1);
  const lo = i32x4.add(i32x4.splat(<i32>(<u32>e)), i32x4(0, 1, 2, 3));
  return uniformOf(bits4(i32x4.mul(lo, i32x4.splat(GOLDEN)), i32x4.splat(key)));
}
