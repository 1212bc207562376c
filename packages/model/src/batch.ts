// The inputs shared by every graph for one right-padded batch of token sequences: ids, the
// causal + padding attention mask, rotary tables (computed in float32 as Hugging Face does),
// reshape targets and per-token weights for per-sequence means.
import type { LlamaConfig } from './llama-config.js';

export interface Batch {
  /** sequences in this batch */
  size: number;
  /** padded length */
  length: number;
  lengths: number[];
  ids: BigInt64Array;
  bias: Float32Array;
  cos: Float32Array;
  sin: Float32Array;
  tokenWeight: Float32Array;
}

const MASKED = -1e9;

export function makeBatch(c: LlamaConfig, seqs: readonly (readonly number[])[]): Batch {
  const B = seqs.length,
    T = Math.max(...seqs.map((s) => s.length));
  if (B === 0 || T === 0) throw new Error('internal error: empty batch');
  const ids = new BigInt64Array(B * T);
  const bias = new Float32Array(B * T * T).fill(MASKED);
  const tokenWeight = new Float32Array(B * T);
  seqs.forEach((s, b) => {
    for (let t = 0; t < s.length; t++) {
      ids[b * T + t] = BigInt(s[t]!);
      tokenWeight[b * T + t] = 1 / s.length;
    }
    for (let i = 0; i < T; i++) for (let j = 0; j <= Math.min(i, s.length - 1); j++) bias[(b * T + i) * T + j] = 0;
  });
  const { cos, sin } = rotaryTables(c, T);
  return { size: B, length: T, lengths: seqs.map((s) => s.length), ids, bias, cos, sin, tokenWeight };
}

/** cos/sin [T, d] (d the rotary width) with f = [inv, inv], inv_i = theta^(-2i/d), in float32 like HF */
export function rotaryTables(c: LlamaConfig, T: number): { cos: Float32Array; sin: Float32Array } {
  const d = c.ropeDim,
    half = d / 2,
    f = Math.fround;
  const inv = Array.from({ length: half }, (_, i) => f(1 / f(c.ropeTheta ** f((2 * i) / d))));
  const cos = new Float32Array(T * d),
    sin = new Float32Array(T * d);
  for (let p = 0; p < T; p++) {
    for (let i = 0; i < half; i++) {
      const angle = f(p * inv[i]!);
      cos[p * d + i] = cos[p * d + half + i] = Math.cos(angle);
      sin[p * d + i] = sin[p * d + half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/** splits sequences into batches of at most `size`, in order (results are per sequence, so the split does not change them) */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
