// Slice kernels of the operators that mix task vectors by their own rules: SCE, RAM, NearSwap,
// Arcee Fusion. inputs[0] is the base; arithmetic in the given precision, in a fixed order.
import type { MergeSpec } from '../kernel-spec.js';
import type { Round } from '../reference/precision.js';
import { derived, importance, selectMask } from './derived.js';

export function sce(spec: Extract<MergeSpec, { kernel: 'sce' }>, inputs: Float64Array[], n: number, r: Round): Float64Array {
  const base = inputs[0]!,
    models = inputs.slice(1);
  const keepPos = spec.select === 'all' ? undefined : selectMask(derived({ kind: 'variance' }, inputs, n, r), spec.select);
  const c = spec.weights.map(r);
  const out = new Float64Array(n);
  const d = new Float64Array(models.length);
  for (let e = 0; e < n; e++) {
    const b = base[e]!;
    let sum = 0;
    for (let k = 0; k < models.length; k++) {
      d[k] = keepPos && !keepPos[e] ? 0 : r(models[k]![e]! - b);
      sum = r(sum + d[k]!);
    }
    const pos = sum >= 0;
    let mixed = 0,
      div = 0;
    for (let k = 0; k < models.length; k++) {
      const w = (pos ? d[k]! > 0 : d[k]! < 0) ? c[k]! : 0;
      mixed = r(mixed + r(d[k]! * w));
      div = r(div + w);
    }
    out[e] = r(b + r(mixed / Math.max(div, r(1e-6))));
  }
  return out;
}

export function ram(spec: Extract<MergeSpec, { kernel: 'ram' }>, inputs: Float64Array[], n: number, r: Round): Float64Array {
  const base = inputs[0]!,
    models = inputs.slice(1);
  const eps = r(spec.epsilon);
  const lam = spec.lambdas.map(r);
  const out = new Float64Array(n);
  const d = new Float64Array(models.length);
  for (let e = 0; e < n; e++) {
    let count = 0;
    for (let k = 0; k < models.length; k++) {
      d[k] = r(models[k]![e]! - base[e]!);
      if (Math.abs(d[k]!) > eps) count++;
    }
    let acc = 0;
    for (let k = 0; k < models.length; k++) {
      if (!(Math.abs(d[k]!) > eps)) continue;
      acc = r(acc + (count === 1 ? r(d[k]! * lam[k]!) : r(d[k]! / count)));
    }
    out[e] = r(base[e]! + acc);
  }
  return out;
}

/** Per model: [positions where it is active and shared, positions where it is the only active model]. */
export function ramCounts(epsilon: number, inputs: Float64Array[], n: number, r: Round): number[][] {
  const base = inputs[0]!,
    models = inputs.slice(1);
  const eps = r(epsilon);
  const counts = models.map(() => [0, 0]);
  const active = new Uint8Array(models.length);
  for (let e = 0; e < n; e++) {
    let c = 0;
    for (let k = 0; k < models.length; k++) {
      active[k] = Math.abs(r(models[k]![e]! - base[e]!)) > eps ? 1 : 0;
      c += active[k]!;
    }
    for (let k = 0; k < models.length; k++) if (active[k]) counts[k]![c > 1 ? 0 : 1]!++;
  }
  return counts;
}

export function nearswap(spec: Extract<MergeSpec, { kernel: 'nearswap' }>, inputs: Float64Array[], n: number, r: Round): Float64Array {
  const base = inputs[0]!,
    x = inputs[1]!;
  const t = r(spec.t);
  const out = new Float64Array(n);
  for (let e = 0; e < n; e++) {
    let w = r(t / Math.abs(r(base[e]! - x[e]!)));
    if (!Number.isFinite(w)) w = 1; // 0 difference (and NaN): take the model, as nan_to_num does
    w = Math.min(1, Math.max(0, w));
    out[e] = r(r(w * x[e]!) + r(r(1 - w) * base[e]!));
  }
  return out;
}

export function fusion(spec: Extract<MergeSpec, { kernel: 'fusion' }>, inputs: Float64Array[], n: number, r: Round): Float64Array {
  const base = inputs[0]!,
    x = inputs[1]!;
  const imp = importance(inputs, n, spec.rowLen, r);
  const thr = r(spec.threshold);
  return base.subarray(0, n).map((b, e) => r(b + (imp[e]! >= thr ? r(x[e]! - b) : 0)));
}
