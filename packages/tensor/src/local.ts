// Runs one operator on whole tensors held in memory, slice by slice, with the WebAssembly
// kernels or the TypeScript reference. Used by tests and for small in-process merges; the
// engine runs the same programs with slices spread over workers.
import { decode, encode, roundTo } from './codec.js';
import { type FloatDtype, itemSize } from './dtype.js';
import type { InputRounding, MergeSpec, StatsResult, StatsSpec } from './kernel-spec.js';
import type { Operator, TensorContext } from './ops/types.js';
import { F32, F64 } from './reference/precision.js';
import { referenceMerge, referenceStats } from './kernels.js';
import { planSlices } from './slicing.js';
import { KernelRuntime } from './wasm-runtime.js';

export interface TensorBytes {
  dtype: FloatDtype;
  bytes: Uint8Array;
}

export interface LocalOptions {
  outDtype: FloatDtype;
  rounding?: InputRounding;
  /** maximum slice size in elements (rounded to the slice quantum) */
  sliceElems?: number;
  backend: 'wasm' | 'reference';
}

let runtime: KernelRuntime | undefined;

/** Merges one tensor; `inputs` are in kernel order (base first when the operator uses one). */
export function mergeLocally(op: Operator, ctx: Omit<TensorContext, 'slices'>, inputs: TensorBytes[], opts: LocalOptions): Uint8Array {
  const rowLen = ctx.shape.length > 1 ? ctx.shape[ctx.shape.length - 1]! : 1;
  const slices = planSlices(ctx.numel, opts.sliceElems ?? Number.MAX_SAFE_INTEGER, rowLen, op.slicing(ctx.params));
  const program = op.program({ ...ctx, slices });
  const sliceOf = (i: TensorBytes, s: number) => {
    const size = itemSize(i.dtype);
    return i.bytes.subarray(slices[s]!.elemStart * size, (slices[s]!.elemStart + slices[s]!.n) * size);
  };
  const run = (s: number, stats: StatsSpec | undefined, merge: MergeSpec | undefined): StatsResult | Uint8Array => {
    const { elemStart, n } = slices[s]!;
    if (opts.backend === 'reference') {
      const r = opts.rounding === 'F64' ? F64 : F32;
      const values = inputs.map((i) => {
        const v = decode(sliceOf(i, s), i.dtype);
        const to = opts.rounding ?? 'F32';
        for (let e = 0; e < v.length; e++) v[e] = roundTo(v[e]!, to);
        return v;
      });
      if (stats) return referenceStats(stats, values, n, elemStart, r);
      return encode(referenceMerge(merge!, values, n, elemStart, r), opts.outDtype);
    }
    runtime ??= new KernelRuntime();
    const views = runtime.prepare({ n, inputDtypes: inputs.map((i) => i.dtype), rounding: opts.rounding, outDtype: opts.outDtype });
    views.forEach((v, k) => v.set(sliceOf(inputs[k]!, s)));
    if (stats) return runtime.stats(stats, elemStart);
    return runtime.merge(merge!, elemStart).bytes.slice();
  };
  for (let pass = program.nextStats(); pass; pass = program.nextStats()) {
    program.reduce(slices.map((_, s) => run(s, pass(s), undefined) as StatsResult));
  }
  const out = new Uint8Array(ctx.numel * itemSize(opts.outDtype));
  slices.forEach((sl, s) => out.set(run(s, undefined, program.merge(s)) as Uint8Array, sl.elemStart * itemSize(opts.outDtype)));
  return out;
}
