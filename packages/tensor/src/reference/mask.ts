// Reference of asm/mask.ts: decides element by element, in element order, whether a task
// vector entry survives its mask. Quotas are consumed as elements go by.
import type { MaskSpec } from '../kernel-spec.js';
import { uniform } from '../rng.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Bit pattern of |d| rounded to f32: the key of every magnitude ranking. */
export function absBits(d: number): number {
  f32[0] = d;
  return u32[0]! & 0x7fffffff;
}

export class MaskState {
  private readonly state: number[];

  constructor(private readonly spec: MaskSpec) {
    this.state = spec.kind === 'topk' ? [spec.quota] : spec.kind === 'window' ? [spec.dropLo, spec.keepHi] : [];
  }

  /** Whether element e (global index; j is its index in the slice) with value d is kept. */
  keep(d: number, e: number, j: number): boolean {
    const s = this.spec;
    switch (s.kind) {
      case 'none':
        return true;
      case 'zero':
        return false;
      case 'topk': {
        const a = absBits(d);
        if (a > s.thr) return true;
        if (a !== s.thr) return false;
        return this.take(0);
      }
      case 'window': {
        const a = absBits(d);
        if (a < s.lo || a > s.hi) return false;
        let keep = true;
        if (a === s.hi) keep = this.take(1);
        if (a === s.lo) keep = !this.take(0) && keep;
        return keep;
      }
      case 'bernoulli':
        return uniform(e, s.key) < Math.fround(s.p);
      case 'probs':
        return uniform(e, s.key) < s.probs[j]!;
      case 'della':
        throw new Error('della masks are resolved into probabilities first');
    }
  }

  /** Consumes one unit of quota i; true when there was one left. */
  private take(i: number): boolean {
    const left = this.state[i]!;
    this.state[i] = left - (left > 0 ? 1 : 0);
    return left > 0;
  }
}
