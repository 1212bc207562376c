// Spherical operators whose whole-tensor geometry reduces to the Gram matrix of the inputs:
// one stats pass of dot products, the iteration in float64 on coefficients, then one linear
// combination of the inputs (plus the base, for task vectors) per slice.
import type { MergeSpec, StatsResult } from '../kernel-spec.js';
import { sumBlocks, triIndex } from '../gram.js';
import { nuslerpCoefficients } from '../slice-kernels/nuslerp.js';
import { type Operator, OperatorError, type TensorContext, type TensorProgram, bool, direct, num } from './types.js';

type Gram = (i: number, j: number) => number;

/**
 * A program: one Gram pass (raw inputs, or task vectors when `delta`), then the coefficients of
 * the combination (and its divisor, 1 for none).
 */
function gramProgram(ctx: TensorContext, delta: boolean, coefficients: (gram: Gram, n: number) => number[] | [number[], number]): TensorProgram {
  let spec: MergeSpec | undefined;
  const n = delta ? ctx.inputs.length - 1 : ctx.inputs.length;
  return {
    nextStats: () => (spec ? null : () => ({ kernel: 'gram', mode: delta ? 'delta' : 'raw' })),
    reduce(results: StatsResult[]) {
      const g = sumBlocks(
        results.flatMap((r) => (r.kernel === 'gram' ? r.blocks : [])),
        (n * (n + 1)) / 2,
      );
      const c = coefficients((i, j) => g[triIndex(n, Math.min(i, j), Math.max(i, j))]!, n);
      spec = Array.isArray(c[0]) ? combination(c[0], delta, c[1] as number) : combination(c as number[], delta);
    },
    merge: () => spec!,
  };
}

/** Σ c_i v_i: of the inputs (linear), or of the task vectors plus the base (tvmerge). */
function combination(c: number[], delta: boolean, div = 1): MergeSpec {
  if (!delta) return { kernel: 'linear', weights: c, normalize: div !== 1, div };
  return {
    kernel: 'tvmerge',
    consensus: 'sum',
    normalize: div !== 1,
    div,
    lambda: 1,
    models: c.map((weight) => ({ weight, scale: 1, mask: { kind: 'none' } })),
  };
}

export const nuslerp: Operator = {
  name: 'nuslerp',
  embeddings: 'common-rows',
  summary: 'Spherical interpolation of two models (of their task vectors when a base is given), whole tensor, per row or per column.',
  base: 'optional',
  models: { min: 2, max: 2 },
  params: [
    { name: 'weight', scope: 'model', type: 'number', doc: 'relative weight of each of the two models' },
    { name: 'nuslerp_flatten', scope: 'global', type: 'boolean', default: true, doc: 'treat the tensor as one vector' },
    {
      name: 'nuslerp_row_wise',
      scope: 'global',
      type: 'boolean',
      default: false,
      doc: 'without flatten: interpolate columns (vectors along axis 0) instead of rows',
    },
  ],
  slicing: (p) => (bool(p.nuslerp_flatten) ? 'block' : bool(p.nuslerp_row_wise) ? 'whole' : 'row'),
  program(ctx) {
    const withBase = ctx.inputs[0]!.role === 'base';
    const models = ctx.inputs.filter((i) => i.role === 'model');
    const w1 = num(models[0]!.params.weight),
      w2 = num(models[1]!.params.weight);
    const t = Math.abs(w1 + w2) < 1e-6 ? 0.5 : w2 / (w1 + w2);
    if (!bool(ctx.params.nuslerp_flatten) && ctx.shape.length > 1) {
      const rowLen = ctx.shape[ctx.shape.length - 1]!;
      return direct(() => ({ kernel: 'nuslerp', t, axis: bool(ctx.params.nuslerp_row_wise) ? 'col' : 'row', withBase, rowLen }));
    }
    return gramProgram(ctx, withBase, (g) => {
      const [a, c, div] = nuslerpCoefficients(t, g(0, 0), g(0, 1), g(1, 1));
      return [[a, c], div];
    });
  },
};

export const multislerp: Operator = {
  name: 'multislerp',
  embeddings: 'refuse',
  summary: 'Barycentric interpolation of several models on the hypersphere (of task vectors with a base).',
  base: 'optional',
  models: { min: 1 },
  params: [
    { name: 'weight', scope: 'model', type: 'number', doc: 'weight of the model' },
    { name: 'normalize_weights', scope: 'global', type: 'boolean', default: true, doc: 'scale the weights to sum to 1' },
    { name: 'eps', scope: 'global', type: 'number', default: 1e-8, range: { min: 0 }, doc: 'numerical guard of the norms' },
  ],
  slicing: () => 'block',
  program(ctx) {
    const withBase = ctx.inputs[0]!.role === 'base';
    const models = ctx.inputs.filter((i) => i.role === 'model');
    if (models.length === 1) return direct(() => combination([1], withBase));
    let w = models.map((m) => num(m.params.weight));
    const eps = num(ctx.params.eps);
    if (bool(ctx.params.normalize_weights)) {
      const s = w.reduce((a, b) => a + b, 0);
      w = w.map((x) => x / s);
    }
    return gramProgram(ctx, withBase, (g, n) => {
      const norms = Array.from({ length: n }, (_, i) => Math.sqrt(g(i, i)));
      const u = norms.map((x) => 1 / (x + eps)); // u_i = v_i * u[i]
      const m = w.map((wi, i) => wi * u[i]!); // mean = Σ m_i v_i
      const dot = (a: number[], b: number[]) => a.reduce((s, ai, i) => s + b.reduce((t, bj, j) => t + ai * bj * g(i, j), 0), 0);
      const mNorm = Math.sqrt(dot(m, m));
      if (mNorm < eps) {
        if (n === 2) return w;
        throw new OperatorError(ctx.name, 'multislerp: the weighted mean of the unit vectors is zero (antipodal inputs with balancing weights)');
      }
      const mh = m.map((x) => x / mNorm);
      // tangent T = Σ w_i (u_i - (u_i . m̂) m̂)
      const tangent = new Array<number>(n).fill(0);
      for (let i = 0; i < n; i++) {
        const ui = Array.from({ length: n }, (_, j) => (j === i ? u[i]! : 0));
        const d = dot(ui, mh);
        for (let j = 0; j < n; j++) tangent[j] = tangent[j]! + w[i]! * (ui[j]! - d * mh[j]!);
      }
      const tau = Math.sqrt(Math.max(0, dot(tangent, tangent))) + eps;
      const scale = w.reduce((s, wi, i) => s + wi * norms[i]!, 0);
      return mh.map((x, j) => (x * Math.cos(tau) + tangent[j]! * (Math.sin(tau) / tau)) * scale);
    });
  },
};

export const karcher: Operator = {
  name: 'karcher',
  embeddings: 'common-rows',
  summary: 'Karcher (Riemannian) mean of all inputs on the hypersphere, scaled by their mean norm.',
  base: 'optional',
  models: { min: 1 },
  params: [
    { name: 'max_iter', scope: 'global', type: 'number', default: 10, range: { min: 0 }, doc: 'iterations at most' },
    { name: 'tol', scope: 'global', type: 'number', default: 1e-5, range: { min: 0 }, doc: 'convergence tolerance' },
  ],
  slicing: () => 'block',
  program(ctx) {
    if (ctx.inputs.length === 1) return direct(() => combination([1], false));
    const maxIter = num(ctx.params.max_iter),
      tol = num(ctx.params.tol);
    return gramProgram(ctx, false, (g, n) => karcherCoefficients(g, n, maxIter, tol));
  },
};

/** Karcher mean as coefficients of the inputs (iterates on coefficients of unit vectors). */
function karcherCoefficients(g: (i: number, j: number) => number, n: number, maxIter: number, tol: number): number[] {
  const alphas = new Array<number>(n).fill(1 / n);
  const norms = Array.from({ length: n }, (_, i) => Math.sqrt(g(i, i)));
  const valid = norms.flatMap((x, i) => (x > tol ? [i] : []));
  if (valid.length === 0) return new Array<number>(n).fill(0);
  // unit Gram over the valid inputs
  const ug = (a: number, b: number) => g(valid[a]!, valid[b]!) / (norms[valid[a]!]! * norms[valid[b]!]!);
  const k = valid.length;
  const aSum = valid.reduce((s, i) => s + alphas[i]!, 0);
  const na = valid.map((i) => alphas[i]! / aSum);
  const dot = (a: number[], b: number[]) => a.reduce((s, ai, i) => s + b.reduce((t, bj, j) => t + ai * bj * ug(i, j), 0), 0);
  let c = na.slice();
  const cNorm = Math.sqrt(dot(c, c));
  c = cNorm < tol ? valid.map((_, i) => (i === 0 ? 1 : 0)) : c.map((x) => x / cNorm);
  for (let it = 0; it < maxIter; it++) {
    const tangent = new Array<number>(k).fill(0);
    for (let i = 0; i < k; i++) {
      const ei = valid.map((_, j) => (j === i ? 1 : 0));
      const d = Math.min(1, Math.max(-1, dot(c, ei)));
      const theta = Math.acos(d);
      if (theta < tol) continue;
      const f = na[i]! * (theta / Math.sin(theta));
      for (let j = 0; j < k; j++) tangent[j] = tangent[j]! + f * (ei[j]! - d * c[j]!);
    }
    const tn = Math.sqrt(Math.max(0, dot(tangent, tangent)));
    if (tn < tol) break;
    c = c.map((x, j) => Math.cos(tn) * x + Math.sin(tn) * (tangent[j]! / tn));
    const un = Math.sqrt(dot(c, c));
    if (un > tol) c = c.map((x) => x / un);
  }
  const scale = alphas.reduce((s, a, i) => s + a * norms[i]!, 0);
  const out = new Array<number>(n).fill(0);
  valid.forEach((i, j) => {
    out[i] = (scale * c[j]!) / norms[i]!;
  });
  return out;
}
