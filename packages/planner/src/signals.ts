// Pair signals from structural statistics: for models a and b (indices into the experts), over
// any set of tensors (one tensor, a layer, all), from the summed Grams and sign counts.
import { addInto, pair, tri, triSize } from './gram.js';
import type { StructuralStats, TensorStats } from './structural.js';

export interface PairSignals {
  /** cosine of the task vectors d_a = a − base and d_b */
  cos: number;
  /** L2 norms of the task vectors, and norm_a / norm_b */
  normA: number;
  normB: number;
  normRatio: number;
  /** ‖d‖ / ‖base‖ */
  relA: number;
  relB: number;
  /** among entries where both task vectors are non-zero, the share with the same sign */
  signAgreement: number;
  /** among entries both keep in their top-k (TIES, density of the statistics), the share with opposite signs */
  tiesConflict: number;
  /** cosine of the weights a and b */
  weightCos: number;
}

/** Sums of the statistics over a set of tensors. */
export interface Sums {
  k: number;
  raw: Float64Array;
  delta: Float64Array;
  signs: Float64Array;
}

export function sums(stats: StructuralStats, include: (t: TensorStats) => boolean = () => true): Sums {
  const k = stats.models.length;
  const s: Sums = { k, raw: new Float64Array(triSize(k + 1)), delta: new Float64Array(triSize(k)), signs: new Float64Array(((k * (k - 1)) / 2) * 4) };
  for (const t of stats.tensors) {
    if (!include(t)) continue;
    addInto(s.raw, t.raw);
    addInto(s.delta, t.delta);
    addInto(s.signs, t.signs);
  }
  return s;
}

const ratio = (x: number, y: number) => (y === 0 ? Number.NaN : x / y);

export function pairSignals(s: Sums, a: number, b: number): PairSignals {
  const { k } = s;
  const g = (i: number, j: number) => s.delta[tri(k, i, j)]!;
  const w = (i: number, j: number) => s.raw[tri(k + 1, i, j)]!;
  const normA = Math.sqrt(g(a, a)),
    normB = Math.sqrt(g(b, b)),
    normBase = Math.sqrt(w(0, 0));
  const c = a === b ? undefined : pair(k, a, b);
  return {
    cos: ratio(g(a, b), normA * normB),
    normA,
    normB,
    normRatio: ratio(normA, normB),
    relA: ratio(normA, normBase),
    relB: ratio(normB, normBase),
    signAgreement: c === undefined ? 1 : ratio(s.signs[c + 1]!, s.signs[c]!),
    tiesConflict: c === undefined ? 0 : ratio(s.signs[c + 3]!, s.signs[c + 2]!),
    weightCos: ratio(w(a + 1, b + 1), Math.sqrt(w(a + 1, a + 1) * w(b + 1, b + 1))),
  };
}

/**
 * Adds a virtual model to the statistics: base + Σ coeffs_i d_i (a task-arithmetic merge of the
 * experts with λ·w_i = coeffs_i), whose Gram entries follow exactly from the others' without
 * writing it. Its sign counts are not linear in the Grams: against another expert they are
 * approximated by its members' counts, weighted by |coefficient| (the Gram signals stay exact).
 */
export function withCombination(stats: StructuralStats, coeffs: readonly number[], name = 'combination'): StructuralStats {
  const k = stats.models.length;
  if (coeffs.length !== k) throw new RangeError(`${coeffs.length} coefficients for ${k} models`);
  const k2 = k + 1;
  const tensors = stats.tensors.map((t) => {
    const g = (i: number, j: number) => t.delta[tri(k, i, j)]!;
    const w = (i: number, j: number) => t.raw[tri(k + 1, i, j)]!;
    const delta = new Float64Array(triSize(k2));
    for (let i = 0; i < k; i++) for (let j = i; j < k; j++) delta[tri(k2, i, j)] = g(i, j);
    // d_v · d_j = Σ c_i G_ij; d_v · d_v = cᵀ G c
    let vv = 0;
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += coeffs[i]! * g(i, j);
      delta[tri(k2, j, k)] = s;
      vv += coeffs[j]! * s;
    }
    delta[tri(k2, k, k)] = vv;
    // weights: x_v = b + d_v, with b · d_i = R_0i − R_00 and d_i · x_j = R_ij − R_0j
    const raw = new Float64Array(triSize(k2 + 1));
    for (let i = 0; i <= k; i++) for (let j = i; j <= k; j++) raw[tri(k2 + 1, i, j)] = w(i, j);
    let bdv = 0;
    for (let i = 0; i < k; i++) bdv += coeffs[i]! * (w(0, i + 1) - w(0, 0));
    raw[tri(k2 + 1, 0, k + 1)] = w(0, 0) + bdv;
    for (let j = 0; j < k; j++) {
      let dvx = 0;
      for (let i = 0; i < k; i++) dvx += coeffs[i]! * (w(i + 1, j + 1) - w(0, j + 1));
      raw[tri(k2 + 1, j + 1, k + 1)] = w(0, j + 1) + dvx;
    }
    raw[tri(k2 + 1, k + 1, k + 1)] = w(0, 0) + 2 * bdv + vv;
    const signs = new Float64Array(((k2 * (k2 - 1)) / 2) * 4);
    for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) signs.set(t.signs.subarray(pair(k, i, j), pair(k, i, j) + 4), pair(k2, i, j));
    const weight = coeffs.reduce((s, c) => s + Math.abs(c), 0);
    for (let j = 0; j < k; j++) {
      for (let q = 0; q < 4; q++) {
        let v = 0;
        for (let i = 0; i < k; i++) if (i !== j) v += (Math.abs(coeffs[i]!) / (weight || 1)) * t.signs[pair(k, i, j) + q]!;
        signs[pair(k2, j, k) + q] = v;
      }
    }
    return { ...t, raw, delta, signs };
  });
  return { ...stats, models: [...stats.models, name], tensors };
}
