// Runs an operator on small tensors given as number arrays (F32 in and out), for the tests.
import { decode, encode } from '../codec.js';
import { mergeLocally } from '../local.js';
import { findOperator } from './registry.js';
import { type ParamValue, type ProgramInput, defaultParams } from './types.js';

type P = Record<string, ParamValue>;

export interface RunOptions {
  base?: boolean;
  backend?: 'wasm' | 'reference';
  shape?: number[];
  sliceElems?: number;
  seed?: number;
}

export function runOperator(name: string, tensors: number[][] | Float64Array[], global: P, perModel: P[], opts: RunOptions = {}): number[] {
  const op = findOperator(name)!;
  const hasBase = opts.base ?? op.base === 'required';
  const defaults = defaultParams(op);
  const inputs: ProgramInput[] = tensors.map((_, i) => ({
    role: hasBase && i === 0 ? 'base' : 'model',
    model: hasBase ? i - 1 : i,
    params: { ...defaults, ...(perModel[i] ?? {}) },
  }));
  const numel = tensors[0]!.length;
  const out = mergeLocally(
    op,
    { name: 'w', shape: opts.shape ?? [numel], numel, inputs, params: { ...defaults, ...global }, seed: opts.seed ?? 0 },
    tensors.map((t) => ({ dtype: 'F32', bytes: encode(t, 'F32') })),
    { outDtype: 'F32', backend: opts.backend ?? 'wasm', ...(opts.sliceElems ? { sliceElems: opts.sliceElems } : {}) },
  );
  return Array.from(decode(out, 'F32'));
}
