// Counter-based uniforms for random masks (DARE, DELLA). The uniform of an element depends only
// on (seed, tensor name, model index, element index), never on slicing, workers or order.
// asm/rng.ts computes the same numbers four lanes at a time.

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** FNV-1a 64-bit over UTF-8 bytes, as two 32-bit words. */
function fnv1a64(text: string): [number, number] {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(text)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return [Number(h & 0xffffffffn), Number(h >> 32n)];
}

export type MaskKey = readonly [number, number];

/** The key of one model's mask on one tensor. */
export function maskKey(seed: number, tensorName: string, modelIndex: number): MaskKey {
  const [a, b] = fnv1a64(`${seed}\u0000${tensorName}\u0000${modelIndex}`);
  return [fmix(a ^ 0x6a09e667), fmix(b ^ 0xbb67ae85)];
}

/** Uniform in [0, 1) with 24 random bits for element e (0 <= e < 2^53). */
export function uniform(e: number, key: MaskKey): number {
  const lo = e >>> 0;
  const hi = Math.floor(e / 4294967296) >>> 0;
  const k = (key[0] ^ fmix((Math.imul(hi, 0x85ebca77) ^ key[1]) >>> 0)) >>> 0;
  const h = fmix((Math.imul(lo, 0x9e3779b1) ^ k) >>> 0);
  return (h >>> 8) * 5.9604644775390625e-8;
}
