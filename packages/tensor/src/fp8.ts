// The FP8 formats of safetensors checkpoints. F8_E4M3 is float8_e4m3fn: 4 exponent bits (bias 7)
// and 3 mantissa bits, no infinities, S.1111.111 is NaN, largest finite 448. F8_E5M2 is
// float8_e5m2: IEEE-style, 5 exponent bits (bias 15) and 2 mantissa bits, with infinities and
// NaNs, largest finite 57344. Decoding is exact in float32; encoding rounds to nearest, ties to
// even, and saturates to the largest finite value (as the saturating casts of FP8 quantisers do).

export type Fp8Dtype = 'F8_E4M3' | 'F8_E5M2';

interface Format {
  man: number;
  bias: number;
  /** the exponent field of all ones holds infinities and NaNs (IEEE), or only NaN with an all-ones mantissa */
  ieee: boolean;
  /** bits of the largest finite value, and that value */
  maxBits: number;
  max: number;
  nanBits: number;
}

const FORMATS: Record<Fp8Dtype, Format> = {
  F8_E4M3: { man: 3, bias: 7, ieee: false, maxBits: 0x7e, max: 448, nanBits: 0x7f },
  F8_E5M2: { man: 2, bias: 15, ieee: true, maxBits: 0x7b, max: 57344, nanBits: 0x7e },
};

function fp8Value(bits: number, f: Format): number {
  const sign = bits & 0x80 ? -1 : 1;
  const expField = (bits & 0x7f) >>> f.man;
  const m = bits & ((1 << f.man) - 1);
  const top = 0x7f >>> f.man;
  if (expField === top && (f.ieee || m === (1 << f.man) - 1)) return f.ieee && m === 0 ? sign * Infinity : Number.NaN;
  if (expField === 0) return sign * m * 2 ** (1 - f.bias - f.man);
  return sign * (1 + m / (1 << f.man)) * 2 ** (expField - f.bias);
}

/** The value of each of the 256 bit patterns, per format. */
export const FP8_VALUES: Readonly<Record<Fp8Dtype, Float32Array>> = {
  F8_E4M3: Float32Array.from({ length: 256 }, (_, b) => fp8Value(b, FORMATS.F8_E4M3)),
  F8_E5M2: Float32Array.from({ length: 256 }, (_, b) => fp8Value(b, FORMATS.F8_E5M2)),
};

/** The bits of x in an FP8 format: round to nearest, ties to even; beyond the largest finite value (infinities too), that value; NaN stays NaN. */
export function fp8Bits(x: number, d: Fp8Dtype): number {
  const f = FORMATS[d];
  if (Number.isNaN(x)) return f.nanBits;
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(x);
  if (a >= f.max) return sign | f.maxBits;
  if (a === 0) return sign;
  // the quantum at a's binade (subnormals share the smallest normal binade's quantum)
  const minExp = 1 - f.bias;
  const quantum = 2 ** (Math.max(binade(a), minExp) - f.man);
  const k = a / quantum;
  let q = Math.floor(k);
  const rest = k - q;
  if (rest > 0.5 || (rest === 0.5 && q % 2 === 1)) q++;
  const v = q * quantum;
  if (v >= f.max) return sign | f.maxBits;
  if (v < 2 ** minExp) return sign | (v / 2 ** (minExp - f.man));
  const e = binade(v);
  return sign | ((e + f.bias) << f.man) | (v / 2 ** (e - f.man) - (1 << f.man));
}

/** The exponent of the power of two at or below a positive number. */
function binade(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}
