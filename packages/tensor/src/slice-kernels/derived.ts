// Per-element values derived from all inputs of a slice (inputs[0] is the base), in f32.
import type { DerivedValue } from '../kernel-spec.js';
import type { Round } from '../reference/precision.js';

/** Population variance over the models of the task vectors x_i - b, two passes, model order. */
function variance(inputs: Float64Array[], n: number, r: Round): Float64Array {
  const base = inputs[0]!,
    models = inputs.slice(1);
  const out = new Float64Array(n);
  const m = models.length;
  for (let e = 0; e < n; e++) {
    let sum = 0;
    for (const x of models) sum = r(sum + r(x[e]! - base[e]!));
    const mean = r(sum / m);
    let sq = 0;
    for (const x of models) {
      const c = r(r(x[e]! - base[e]!) - mean);
      sq = r(sq + r(c * c));
    }
    out[e] = r(sq / m);
  }
  return out;
}

/** softmax(v) + 1e-8 over one row, in the given precision. */
function softmaxEps(v: Float64Array, r: Round): Float64Array {
  let max = -Infinity;
  for (const x of v) max = Math.max(max, x);
  const ex = v.map((x) => r(Math.exp(r(x - max))));
  let sum = 0;
  for (const x of ex) sum = r(sum + x);
  return ex.map((x) => r(r(x / sum) + r(1e-8)));
}

/** Arcee Fusion importance: |x - b| * KL(softmax(x) || softmax(b)) of the element's row. */
export function importance(inputs: Float64Array[], n: number, rowLen: number, r: Round): Float64Array {
  const base = inputs[0]!,
    x = inputs[1]!;
  const out = new Float64Array(n);
  for (let start = 0; start < n; start += rowLen) {
    const end = Math.min(n, start + rowLen);
    const p = softmaxEps(x.subarray(start, end), r);
    const q = softmaxEps(base.subarray(start, end), r);
    let kl = 0;
    for (let j = 0; j < p.length; j++) kl = r(kl + r(p[j]! * r(Math.log(r(p[j]! / q[j]!)))));
    for (let e = start; e < end; e++) out[e] = r(Math.abs(r(x[e]! - base[e]!)) * kl);
  }
  return out;
}

export function derived(value: DerivedValue, inputs: Float64Array[], n: number, r: Round): Float64Array {
  return value.kind === 'variance' ? variance(inputs, n, r) : importance(inputs, n, value.rowLen, r);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 bit pattern of a non-negative value (the key of radix selection). */
export function bitsOf(v: number): number {
  f32[0] = v;
  return u32[0]! & 0x7fffffff;
}

/** Mask of the elements of a slice kept by a top-k selection: v > thr, and the first `quota` with v == thr. */
export function selectMask(values: Float64Array, select: { thr: number; quota: number } | 'all' | 'none'): Uint8Array {
  const keep = new Uint8Array(values.length);
  if (select === 'none') return keep;
  if (select === 'all') return keep.fill(1);
  let quota = select.quota;
  for (let e = 0; e < values.length; e++) {
    const b = bitsOf(values[e]!);
    if (b > select.thr) keep[e] = 1;
    else if (b === select.thr && quota > 0) {
      keep[e] = 1;
      quota--;
    }
  }
  return keep;
}
