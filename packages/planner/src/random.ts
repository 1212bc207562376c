// A small seeded generator (xorshift32) for reproducible samples and simulated streams.

/** Uniform numbers in [0, 1), the same sequence for the same seed. */
export function seeded(seed: number): () => number {
  let x = (seed * 0x9e3779b1) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}
