import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FP8_VALUES, type Fp8Dtype, fp8Bits } from './fp8.js';

// test/fixtures/fp8/reference.json: ml_dtypes' float8_e4m3fn and float8_e5m2 (make_reference.py)
const reference = JSON.parse(readFileSync(new URL('../../../test/fixtures/fp8/reference.json', import.meta.url), 'utf8')) as Record<
  Fp8Dtype,
  { decode: number[]; encode: [number, number][] }
>;
const f32 = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0]!;

describe('FP8 codecs', () => {
  for (const d of ['F8_E4M3', 'F8_E5M2'] as const) {
    it(`${d}: every bit pattern decodes to the reference value`, () => {
      const want = reference[d].decode.map(f32);
      expect(want).toHaveLength(256);
      for (let b = 0; b < 256; b++)
        expect(Object.is(FP8_VALUES[d][b], want[b]) || (Number.isNaN(FP8_VALUES[d][b]) && Number.isNaN(want[b])), `0x${b.toString(16)}`).toBe(true);
    });

    it(`${d}: encodes as the reference saturating cast (ties to even, overflow to the largest finite value, NaN kept)`, () => {
      let ties = 0;
      for (const [xBits, want] of reference[d].encode) {
        const x = f32(xBits);
        const got = fp8Bits(x, d);
        if (Number.isNaN(x)) expect(Number.isNaN(FP8_VALUES[d][got]!)).toBe(true);
        else if (got !== want) expect.fail(`${d}: ${x} encodes to 0x${got.toString(16)}, want 0x${want.toString(16)}`);
        if (Number.isFinite(x) && isMidpoint(Math.abs(x), d)) ties++;
      }
      expect(ties).toBeGreaterThan(50);
      // a value decoded and encoded again is the same pattern (NaN aside)
      for (let b = 0; b < 256; b++)
        if (!Number.isNaN(FP8_VALUES[d][b]))
          expect(fp8Bits(FP8_VALUES[d][b]!, d), `0x${b.toString(16)}`).toBe(
            Number.isFinite(FP8_VALUES[d][b]) ? b : (b & 0x80) | (d === 'F8_E4M3' ? 0x7e : 0x7b),
          );
    });
  }
});

function isMidpoint(x: number, d: Fp8Dtype): boolean {
  const finite = [...FP8_VALUES[d]].filter((v) => Number.isFinite(v) && v >= 0).sort((a, b) => a - b);
  for (let i = 0; i + 1 < finite.length; i++) if ((finite[i]! + finite[i + 1]!) / 2 === x) return true;
  return false;
}
