// Deterministic test data shared by the package's tests (not exported from the package).
import { encode } from './codec.js';
import type { FloatDtype } from './dtype.js';
import type { TensorBytes } from './local.js';

/** A small seeded generator (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A base and `models` fine-tunes of it: base ~ N(0, 0.02) and task vectors ~ N(0, 0.002),
 * with a share of exact repeats and zeros so that ties and empty entries occur.
 */
export function syntheticTensors(n: number, models: number, dtype: FloatDtype, seed = 1): TensorBytes[] {
  const rnd = seeded(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const base = Float64Array.from({ length: n }, () => 0.02 * gauss());
  const out = [{ dtype, bytes: encode(base, dtype) }];
  for (let m = 0; m < models; m++) {
    const x = base.map((b) => {
      const u = rnd();
      if (u < 0.05) return b; // unchanged: zero task vector entry
      if (u < 0.1) return b + 0.00390625; // a repeated magnitude: ties in top-k
      return b + 0.002 * gauss();
    });
    out.push({ dtype, bytes: encode(x, dtype) });
  }
  return out;
}
