import { describe, expect, it } from 'vitest';
import { openCheckpoint } from './checkpoint.js';
import { SyntheticFile } from './synthetic.js';

// The bytes of a synthetic model, element by element, as the format defines them: a 32-bit hash of
// (seed, element), bf16 with exponent 0x77..0x7a; model > 0 flips the low mantissa bits by a second hash.
function reference(e: number, seed: number, model: number): number {
  let h = (Math.imul((e >>> 0) ^ Math.imul(seed, 0x9e3779b1), 0x85ebca6b) ^ Math.floor(e / 2 ** 32)) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h ^= h >>> 12;
  let v = (h & 0x807f) | ((((h >>> 16) & 3) + 0x77) << 7);
  if (model > 0) {
    let g = (h ^ Math.imul(model, 0x27d4eb2f)) >>> 0;
    g ^= g >>> 15;
    g = Math.imul(g, 0x297a2d39) >>> 0;
    g ^= g >>> 13;
    v ^= g & 7;
  }
  return v;
}

describe('synthetic checkpoints', () => {
  it('generate the defined bytes at any position, odd or aligned, into any buffer, across the 2^32-element boundary', async () => {
    for (const uri of ['synthetic://llama-405b?model=0', 'synthetic://llama-405b?model=3&seed=7']) {
      const f = new SyntheticFile(uri);
      const header = Number(new DataView((await read(f, 0, 8)).buffer).getBigUint64(0, true)) + 8;
      for (const [at, len, shift] of [
        [0, 4001, 0],
        [5, 3001, 1],
        [2 ** 33 - 6, 64, 0],
        [2 ** 33 + 12345, 4097, 1],
      ] as const) {
        const got = await read(f, header + at, len, shift);
        for (let i = 0; i < len; i++) {
          const b = at + i;
          const v = reference(Math.floor(b / 2), uri.includes('seed=7') ? 7 : 1, Number(/model=(\d+)/.exec(uri)![1]));
          if (got[i] !== (b % 2 === 0 ? v & 0xff : v >>> 8)) expect.fail(`${uri} byte ${b}: ${got[i]} (want ${b % 2 === 0 ? v & 0xff : v >>> 8})`);
        }
      }
    }
  });

  it('DeepSeek-V3 FP8 weights: the same bytes whatever the read boundaries, never NaN, an expert differing in the lowest mantissa bit', async () => {
    const base = new SyntheticFile('synthetic://deepseek-v3-671b?model=0');
    const expert = new SyntheticFile('synthetic://deepseek-v3-671b?model=2');
    const at = (await openCheckpoint('synthetic://deepseek-v3-671b')).tensors.get('model.layers.3.mlp.experts.7.up_proj.weight')!.offset + 3;
    const whole = await read(base, at, 4099);
    const pieces = [await read(base, at, 1), await read(base, at + 1, 6, 1), await read(base, at + 7, 4092)];
    expect(Buffer.concat(pieces).equals(Buffer.from(whole))).toBe(true);
    const other = await read(expert, at, 4099);
    let differ = 0;
    for (let i = 0; i < whole.length; i++) {
      expect(whole[i]! & 0x7f).not.toBe(0x7f);
      expect((whole[i]! ^ other[i]!) & 0xfe).toBe(0);
      differ += whole[i]! ^ other[i]!;
    }
    expect(differ).toBeGreaterThan(1000);
  });

  it('refuse a read past the end', async () => {
    const f = new SyntheticFile('synthetic://llama-tiny');
    await expect(read(f, (await f.size()) - 3, 4)).rejects.toThrow(/unexpected end of file/);
  });
});

async function read(f: SyntheticFile, position: number, length: number, shift = 0): Promise<Uint8Array> {
  const into = new Uint8Array(length + shift).subarray(shift);
  await f.readInto(position, into);
  return into;
}
