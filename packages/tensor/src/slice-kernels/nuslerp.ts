// NuSLERP of two vectors per row (the last axis) or per column (axis 0), with or without a base:
// vectors v_i = x_i (or x_i - b), t from the weights, lerp where the vectors are colinear.
import type { MergeSpec } from '../kernel-spec.js';
import type { Round } from '../reference/precision.js';

/** Coefficients (a, c, divisor) of (a v0 + c v1) / divisor from the vectors' dot products. */
export function nuslerpCoefficients(t: number, v00: number, v01: number, v11: number): [number, number, number] {
  const cos = v01 / (Math.max(Math.sqrt(v00), 1e-7) * Math.max(Math.sqrt(v11), 1e-7));
  const theta = Math.acos(Math.min(1, Math.max(-1, cos)));
  const sin = Math.sin(theta);
  if (Math.abs(sin) < 1e-8) return [1 - t, t, 1];
  return [Math.sin((1 - t) * theta), Math.sin(t * theta), sin];
}

export function nuslerp(spec: Extract<MergeSpec, { kernel: 'nuslerp' }>, inputs: Float64Array[], n: number, r: Round): Float64Array {
  const [x0, x1, base] = spec.withBase ? [inputs[1]!, inputs[2]!, inputs[0]!] : [inputs[0]!, inputs[1]!, undefined];
  const v = (x: Float64Array, e: number) => (base ? r(x[e]! - base[e]!) : x[e]!);
  const cols = spec.rowLen;
  const rows = Math.ceil(n / cols);
  // a vector is a row (stride 1) or a column (stride = row length)
  const [count, len, stride, step] = spec.axis === 'row' ? [rows, cols, 1, cols] : [cols, rows, cols, 1];
  const out = new Float64Array(n);
  for (let i = 0; i < count; i++) {
    let s00 = 0,
      s01 = 0,
      s11 = 0;
    for (let j = 0; j < len; j++) {
      const e = i * step + j * stride;
      if (e >= n) break;
      const a = v(x0, e),
        b = v(x1, e);
      s00 += a * a;
      s01 += a * b;
      s11 += b * b;
    }
    const [ca, cb, div] = nuslerpCoefficients(spec.t, s00, s01, s11).map(r) as [number, number, number];
    for (let j = 0; j < len; j++) {
      const e = i * step + j * stride;
      if (e >= n) break;
      let res = r(r(ca * v(x0, e)) + r(cb * v(x1, e)));
      if (div !== 1) res = r(res / div);
      out[e] = base ? r(base[e]! + res) : res;
    }
  }
  return out;
}
