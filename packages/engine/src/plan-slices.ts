// Slice sizing: how many elements one task reads of each input, from --slice-mb or the memory
// budget per worker thread, cut at boundaries the operator allows.
import { type SliceRange, itemSize, planSlices } from '@tessera/tensor';
import { DEFAULT_MEMORY_BYTES, type PlanOptions, type TensorPlan } from './plan.js';

/** Elements per slice: from --slice-mb (one input's slice), else from the memory budget. */
function maxSliceElems(t: Omit<TensorPlan, 'outFile' | 'outOffset'>, opts: PlanOptions): number {
  const widest = Math.max(...t.inputs.map((i) => itemSize(i.dtype)));
  if (opts.sliceBytes !== undefined) return Math.floor(opts.sliceBytes / widest);
  const converted =
    t.inputs.some((i) => i.dtype !== t.inputs[0]!.dtype || i.dtype === 'F16' || i.dtype === 'F64') ||
    (t.rounding !== undefined && t.rounding !== t.inputs[0]!.dtype);
  // a re-quantised output is first merged into float32
  const perElem = t.inputs.reduce((s, i) => s + itemSize(i.dtype) + (converted ? 4 : 0), 0) + itemSize(t.outDtype) + (t.outScale ? 4 : 0);
  return Math.floor((opts.memoryBytes ?? DEFAULT_MEMORY_BYTES) / perElem);
}

/**
 * The slices of a planned tensor. A 1-D tensor is one row (row-local operators see it whole); a
 * re-quantised FP8 weight is cut at block rows, so that each slice computes its blocks' scales.
 */
export function planTensorSlices(t: Omit<TensorPlan, 'outFile' | 'outOffset'>, opts: PlanOptions): SliceRange[] {
  const rowLen = t.shape.length > 1 ? t.shape[t.shape.length - 1]! : t.numel;
  const slicing = t.operator.slicing(t.context.params);
  if (t.outScale && slicing !== 'whole') return planSlices(t.numel, maxSliceElems(t, opts), rowLen * t.outScale.block[0], 'row');
  return planSlices(t.numel, maxSliceElems(t, opts), rowLen, slicing);
}
