// Widening and rounding of input slices: from the checkpoint's dtype (bf16, f16, f32, f64 or
// FP8), optionally rounded to the recipe's dtype, into the storage the merge kernels read (bf16 or f32).
import { argI32, argPtr } from './args';
import * as S from './generated/slots';
import { f32ToF16Bits } from './codec';

const BF16: i32 = 0;
const F16: i32 = 1;
const F32: i32 = 2;
const F8_E4M3: i32 = 4;
const F8_E5M2: i32 = 5;

function f16BitsToF32(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e == 0x1f) return reinterpret<f32>(sign | 0x7f800000 | (m << 13));
  if (e != 0) return reinterpret<f32>(sign | ((e + 112) << 23) | (m << 13));
  const v = <f32>m * <f32>5.9604644775390625e-8; // subnormal: m * 2^-24, exact
  return sign != 0 ? -v : v;
}

// float8_e4m3fn bits -> f32 (exact): bias 7, S.1111.111 is NaN, subnormals m * 2^-9
function e4m3ToF32(b: u32): f32 {
  const sign = (b & 0x80) << 24;
  const e = (b >>> 3) & 0xf;
  const m = b & 7;
  if (e == 0xf && m == 7) return reinterpret<f32>(sign | 0x7fc00000);
  if (e == 0) {
    const v = <f32>m * <f32>0.001953125;
    return sign != 0 ? -v : v;
  }
  return reinterpret<f32>(sign | ((e + 120) << 23) | (m << 20));
}

@inline function bf16Bits(x: f32): u32 {
  const u = reinterpret<u32>(x);
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
}

// f64 -> f32 rounded to odd, so that a second rounding to bf16 or f16 is correctly rounded.
@inline function toOddF32(x: f64): f32 {
  const f = <f32>x;
  if (<f64>f == x || isNaN(x)) return f;
  let u = reinterpret<u32>(f);
  if (Math.abs(<f64>f) > Math.abs(x)) u -= 1;
  return reinterpret<f32>(u | 1);
}

// roundKind: -1 none, 0 bf16, 1 f16; dstKind: 0 bf16, 2 f32
export function convert(args: usize): void {
  const n = argI32(args, S.CONVERT_N), src = argI32(args, S.CONVERT_SRC_KIND), sp = argPtr(args, S.CONVERT_SRC);
  const round = argI32(args, S.CONVERT_ROUND), dst = argI32(args, S.CONVERT_DST_KIND), dp = argPtr(args, S.CONVERT_DST);
  for (let j = 0; j < n; j++) {
    let v: f32;
    if (src == BF16) v = reinterpret<f32>(<u32>load<u16>(sp + (<usize>j << 1)) << 16);
    else if (src == F16) v = f16BitsToF32(load<u16>(sp + (<usize>j << 1)));
    else if (src == F32) v = load<f32>(sp + (<usize>j << 2));
    else if (src == F8_E4M3) v = e4m3ToF32(load<u8>(sp + <usize>j));
    // float8_e5m2 is the high byte of a float16
    else if (src == F8_E5M2) v = f16BitsToF32(<u32>load<u8>(sp + <usize>j) << 8);
    else {
      const x = load<f64>(sp + (<usize>j << 3));
      v = round < 0 ? <f32>x : toOddF32(x);
    }
    if (round == BF16) v = reinterpret<f32>(bf16Bits(v) << 16);
    else if (round == F16) v = f16BitsToF32(f32ToF16Bits(v));
    if (dst == BF16) store<u16>(dp + (<usize>j << 1), <u16>(reinterpret<u32>(v) >>> 16));
    else store<f32>(dp + (<usize>j << 2), v);
  }
}
