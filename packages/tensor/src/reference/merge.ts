// Reference merge kernels: the same arithmetic, in the same order, as asm/merge.ts. Inputs are
// already rounded to the compute precision; results are unrounded to the output dtype. The
// kernel records (kernels.ts) pair each with its WebAssembly implementation.
import type { MergeSpec } from '../kernel-spec.js';
import { MaskState } from './mask.js';
import type { Round } from './precision.js';

type Spec<K extends MergeSpec['kernel']> = Extract<MergeSpec, { kernel: K }>;

/** Σ w_i x_i over all inputs [/ div]. */
export function linear(spec: Spec<'linear'>, inputs: Float64Array[], n: number, _elemStart: number, r: Round): Float64Array {
  const out = new Float64Array(n);
  const s = spec;
  const w = s.weights.map(r);
  const div = r(s.div);
  for (let e = 0; e < n; e++) {
    let acc = 0;
    for (let k = 0; k < inputs.length; k++) acc = r(acc + r(w[k]! * inputs[k]![e]!));
    out[e] = s.normalize ? r(acc / div) : acc;
  }
  return out;
}

/** Task-vector merge; `inputs[0]` is the base, `elemStart` the slice's first element (masks). */
export function tvmerge(spec: Spec<'tvmerge'>, inputs: Float64Array[], n: number, elemStart: number, r: Round): Float64Array {
  const out = new Float64Array(n);
  const s = spec;
  const base = inputs[0]!;
  const models = inputs.slice(1);
  const masks = s.models.map((m) => new MaskState(m.mask));
  const w = s.models.map((m) => r(m.weight));
  const sc = s.models.map((m) => r(m.scale));
  const lam = r(s.lambda),
    div = r(s.div);
  const dk = new Float64Array(models.length);
  for (let e = 0; e < n; e++) {
    const b = base[e]!;
    for (let k = 0; k < models.length; k++) {
      let d = r(models[k]![e]! - b);
      if (!masks[k]!.keep(d, elemStart + e, e)) d = 0;
      dk[k] = r(r(d * sc[k]!) * w[k]!);
    }
    let acc = 0;
    if (s.consensus === 'ties') {
      let sum = 0;
      for (let k = 0; k < models.length; k++) sum = r(sum + dk[k]!);
      const pos = sum >= 0;
      let dsum = 0;
      for (let k = 0; k < models.length; k++) {
        const keep = pos ? dk[k]! > 0 : dk[k]! < 0;
        acc = r(acc + (keep ? dk[k]! : 0));
        dsum = r(dsum + (keep ? w[k]! : 0));
      }
      if (s.normalize) acc = r(acc / (dsum === 0 ? 1 : dsum));
    } else {
      for (let k = 0; k < models.length; k++) acc = r(acc + dk[k]!);
      if (s.normalize) acc = r(acc / div);
    }
    out[e] = r(b + r(acc * lam));
  }
  return out;
}

/** Model stock: t · mean(x_i) + (1 − t) · b, t per tensor or per row. */
export function stock(spec: Spec<'stock'>, inputs: Float64Array[], n: number, _elemStart: number, r: Round): Float64Array {
  const out = new Float64Array(n);
  const s = spec;
  const base = inputs[0]!;
  const models = inputs.slice(1);
  for (let e = 0; e < n; e++) {
    let sum = 0;
    for (const x of models) sum = r(sum + x[e]!);
    const t = r(s.rowT ? s.rowT[Math.floor(e / s.rowLen)]! : s.t);
    const avg = r(sum / models.length);
    out[e] = r(r(t * avg) + r(r(1 - t) * base[e]!));
  }
  return out;
}
