import { describe, expect, it } from 'vitest';
import { bf16BitsToF32, decode, encode, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, roundTo } from './codec.js';

describe('bf16', () => {
  it('rounds to nearest, ties to even', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie, 0x3f80 is even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie, rounds up to even
    expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81); // above the tie
    expect(f32ToBf16Bits(-2.5)).toBe(0xc020);
    expect(f32ToBf16Bits(-0)).toBe(0x8000);
  });
  it('keeps Inf and NaN, overflows to Inf', () => {
    expect(f32ToBf16Bits(Infinity)).toBe(0x7f80);
    expect(f32ToBf16Bits(-Infinity)).toBe(0xff80);
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
    expect(f32ToBf16Bits(3.4028234663852886e38)).toBe(0x7f80); // max f32 rounds up past max bf16
  });
  it('rounds float64 once (no double rounding through f32)', () => {
    // 1 + 2^-8 + 2^-40: f32 rounding gives the tie 1 + 2^-8 (-> even 1.0); the correct result is up
    expect(roundTo(1 + 2 ** -8 + 2 ** -40, 'BF16')).toBe(1 + 2 ** -7);
  });
});

describe('f16', () => {
  it('encodes normals, subnormals, ties and overflow', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie to even 0
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // tie to even 2
    expect(f32ToF16Bits(2 ** -14)).toBe(0x0400);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(f16BitsToF32(f32ToF16Bits(NaN))).toBeNaN();
  });
  it('decodes every finite half exactly and round-trips', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if (((h >>> 10) & 0x1f) !== 0x1f && f32ToF16Bits(f16BitsToF32(h)) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x3555)).toBeCloseTo(0.33325, 5);
  });
});

describe('decode/encode', () => {
  it('round-trips every dtype', () => {
    const values = [0, -0, 1, -1.5, 3.140625, 65504, 2 ** -20, -Infinity];
    for (const d of ['BF16', 'F16', 'F32', 'F64'] as const) {
      const back = decode(encode(values, d), d);
      expect(Array.from(back)).toEqual(values.map((v) => roundTo(v, d)));
    }
  });
});
