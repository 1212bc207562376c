// Scalar dtype conversions: round-to-nearest-even, NaN stays NaN, Inf stays Inf. These are the
// references for the WebAssembly codecs and the path for float64 computation.
import { type FloatDtype, itemSize } from './dtype.js';
import { FP8_VALUES, fp8Bits } from './fp8.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function bf16BitsToF32(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/** f32 value (exactly representable) -> bf16 bits, round-to-nearest-even. */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) {
    if (m === 0) return sign * Infinity;
    u32[0] = ((h & 0x8000) << 16) | 0x7f800000 | (m << 13);
    return f32[0]!;
  }
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** f32 value -> f16 bits, round-to-nearest-even, subnormals kept, overflow to Inf. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a >= 0x7f800000) return sign | 0x7c00 | (a > 0x7f800000 ? 0x200 | ((a >>> 13) & 0x3ff) : 0);
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a < 0x38800000) {
    if (a < 0x33000000) return sign;
    const e = a >>> 23;
    const m = (a & 0x7fffff) | 0x800000;
    const shift = 126 - e;
    const q = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    const up = rem > half || (rem === half && (q & 1) !== 0) ? 1 : 0;
    return sign | (q + up);
  }
  const b = a - 0x38000000;
  return sign | ((b + 0xfff + ((b >>> 13) & 1)) >>> 13);
}

/** f64 -> f32 rounded to odd: a later rounding to bf16 or f16 is then correctly rounded. */
export function f64ToOddF32(x: number): number {
  const r = Math.fround(x);
  if (r === x || Number.isNaN(x)) return r;
  f32[0] = r;
  if (Math.abs(r) > Math.abs(x)) u32[0] = u32[0]! - 1;
  u32[0] = u32[0]! | 1;
  return f32[0]!;
}

/** Rounds a number to the precision of a dtype (the value stays a JS number). */
export function roundTo(x: number, d: FloatDtype): number {
  switch (d) {
    case 'F64':
      return x;
    case 'F32':
      return Math.fround(x);
    case 'BF16':
      return bf16BitsToF32(f32ToBf16Bits(f64ToOddF32(x)));
    case 'F16':
      return f16BitsToF32(f32ToF16Bits(f64ToOddF32(x)));
    default:
      return FP8_VALUES[d][fp8Bits(x, d)]!;
  }
}

/** Decodes little-endian tensor bytes into numbers (Float64Array holds every dtype exactly). */
export function decode(bytes: Uint8Array, d: FloatDtype): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = itemSize(d);
  const n = Math.floor(bytes.byteLength / size);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    switch (d) {
      case 'BF16':
        out[i] = bf16BitsToF32(view.getUint16(i * 2, true));
        break;
      case 'F16':
        out[i] = f16BitsToF32(view.getUint16(i * 2, true));
        break;
      case 'F32':
        out[i] = view.getFloat32(i * 4, true);
        break;
      case 'F64':
        out[i] = view.getFloat64(i * 8, true);
        break;
      default:
        out[i] = FP8_VALUES[d][bytes[i]!]!;
    }
  }
  return out;
}

/** Encodes numbers into little-endian tensor bytes, rounding each once to the dtype. */
export function encode(values: ArrayLike<number>, d: FloatDtype): Uint8Array {
  const size = itemSize(d);
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    switch (d) {
      case 'BF16':
        view.setUint16(i * 2, f32ToBf16Bits(f64ToOddF32(x)), true);
        break;
      case 'F16':
        view.setUint16(i * 2, f32ToF16Bits(f64ToOddF32(x)), true);
        break;
      case 'F32':
        view.setFloat32(i * 4, x, true);
        break;
      case 'F64':
        view.setFloat64(i * 8, x, true);
        break;
      default:
        out[i] = fp8Bits(x, d);
    }
  }
  return out;
}
