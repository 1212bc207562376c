// Counter-based uniform numbers for random masks: u(e) depends only on (k0, k1) — derived by
// the host from (seed, tensor name, model index) — and the element index e = hi * 2^32 + lo.
// Mirrors src/rng.ts exactly.

@inline function fmix(h: v128): v128 {
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

// Uniforms in [0, 1) with 24 bits for the 4 consecutive elements starting at e (e % 4 == 0).
// The high word of e is folded into the key (one scalar mix), the low word mixed per lane.
@inline export function uniform4(e: u64, k0: u32, k1: u32): v128 {
  const key = k0 ^ fmix1(<u32>(e >>> 32) * 0x85ebca77 ^ k1);
  const lo = i32x4.add(i32x4.splat(<i32>(<u32>e)), i32x4(0, 1, 2, 3));
  const h = fmix(v128.xor(i32x4.mul(lo, i32x4.splat(0x9e3779b1)), i32x4.splat(key)));
  return f32x4.mul(f32x4.convert_i32x4_u(i32x4.shr_u(h, 8)), f32x4.splat(5.9604644775390625e-8));
}
