// Loading 4 lanes of f32 from bf16 (u16) or f32 storage, and emitting f32 results into the
// output dtype with round-to-nearest-even, NaN kept NaN, and a count of non-finite values.

export const CH: i32 = 2048; // elements per chunk: the f32 scratch of one chunk is 8 KiB

export const OUT_BF16: i32 = 0;
const OUT_F32: i32 = 2;
const OUT_F64: i32 = 3;

@inline export function ld<T>(p: usize, j: i32): v128 {
  if (sizeof<T>() == 2) return i32x4.shl(v128.load16x4_u(p + (<usize>j << 1)), 16);
  return v128.load(p + (<usize>j << 2));
}

@inline export function ld1<T>(p: usize, j: i32): f32 {
  if (sizeof<T>() == 2) return reinterpret<f32>(<u32>load<u16>(p + (<usize>j << 1)) << 16);
  return load<f32>(p + (<usize>j << 2));
}

// f32 bits -> bf16 bits in the low half of each lane, round-to-nearest-even (a NaN input may
// come out as Inf or another NaN: for callers that reject non-finite results).
@inline export function bf16LanesFinite(a: v128): v128 {
  return i32x4.shr_u(i32x4.add(i32x4.add(a, i32x4.splat(0x7fff)), v128.and(i32x4.shr_u(a, 16), i32x4.splat(1))), 16);
}

/** -1 in the 16-bit lanes holding a bf16 NaN or Inf. */
@inline export function nonFiniteBf16(v: v128): v128 {
  const e = i16x8.splat(0x7f80);
  return i16x8.eq(v128.and(v, e), e);
}

// f32 bits -> bf16 bits in the low half of each lane, round-to-nearest-even, NaN stays NaN.
@inline function bf16Lanes(a: v128): v128 {
  const r = bf16LanesFinite(a);
  const isNan = i32x4.gt_s(v128.and(a, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000)); // sign cleared: signed compare
  const quiet = v128.or(i32x4.shr_u(a, 16), i32x4.splat(0x40));
  return v128.bitselect(quiet, r, isNan);
}

export function f32ToF16Bits(x: f32): u16 {
  const u = reinterpret<u32>(x);
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a >= 0x7f800000) {
    // Inf stays Inf; NaN becomes a quiet NaN with the top mantissa bits kept.
    return <u16>(sign | 0x7c00 | (a > 0x7f800000 ? 0x200 | ((a >>> 13) & 0x3ff) : 0));
  }
  if (a >= 0x477ff000) return <u16>(sign | 0x7c00); // rounds to >= 65520: overflow to Inf
  if (a < 0x38800000) {
    // subnormal half (or zero): value = m * 2^-24
    if (a < 0x33000000) return <u16>sign; // below half of the smallest subnormal
    const e = a >>> 23;
    const m = (a & 0x7fffff) | 0x800000;
    const shift = 126 - e; // 14..24: the half subnormal unit is 2^-24
    const q = m >>> shift;
    const rem = m & ((<u32>1 << shift) - 1);
    const half: u32 = <u32>1 << (shift - 1);
    const up = rem > half || (rem == half && (q & 1) != 0) ? 1 : 0;
    return <u16>(sign | (q + up));
  }
  const b = a - 0x38000000; // rebias exponent 127 -> 15
  const r = (b + 0xfff + ((b >>> 13) & 1)) >>> 13;
  return <u16>(sign | r);
}

/** -1 in the lanes holding NaN or Inf. */
@inline export function nonFinite(a: v128): v128 {
  const e = i32x4.splat(0x7f800000);
  return i32x4.eq(v128.and(a, e), e);
}

// Writes m f32 values from acc (f32 scratch) into out at element offset off, in the output
// kind, and returns how many were not finite (first index recorded by the caller's host code).
export function emit(acc: usize, out: usize, off: i32, m: i32, kind: i32): i32 {
  let flag = i32x4.splat(0);
  for (let j = 0; j < m; j += 4) flag = v128.or(flag, nonFinite(v128.load(acc + (<usize>j << 2))));
  if (kind == OUT_BF16) {
    const o = out + (<usize>off << 1);
    for (let j = 0; j < m; j += 8) {
      const a = v128.load(acc + (<usize>j << 2));
      const b = v128.load(acc + (<usize>j << 2), 16);
      v128.store(o + (<usize>j << 1), i16x8.narrow_i32x4_u(bf16Lanes(a), bf16Lanes(b)));
    }
  } else if (kind == OUT_F32) {
    memory.copy(out + (<usize>off << 2), acc, <usize>m << 2);
  } else if (kind == OUT_F64) {
    const o = out + (<usize>off << 3);
    for (let j = 0; j < m; j += 4) {
      const a = v128.load(acc + (<usize>j << 2));
      v128.store(o + (<usize>j << 3), f64x2.promote_low_f32x4(a));
      v128.store(o + (<usize>j << 3), f64x2.promote_low_f32x4(v128.shuffle<f32>(a, a, 2, 3, 0, 1)), 16);
    }
  } else {
    const o = out + (<usize>off << 1);
    for (let j = 0; j < m; j++) store<u16>(o + (<usize>j << 1), f32ToF16Bits(load<f32>(acc + (<usize>j << 2))));
  }
  return v128.any_true(flag) ? countNonFinite(acc, m) : 0;
}

/** Exact count of NaN/Inf among m f32 values (the rare path: a flag said there are some). */
function countNonFinite(p: usize, m: i32): i32 {
  let count = 0;
  for (let j = 0; j < m; j++) if ((load<u32>(p + (<usize>j << 2)) & 0x7f800000) == 0x7f800000) count++;
  return count;
}
