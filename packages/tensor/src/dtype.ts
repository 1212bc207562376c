import type { Fp8Dtype } from './fp8.js';

/** Floating-point dtypes Tessera merges, named as in safetensors headers (FP8 as inputs: merges of them are written wider). */
export type FloatDtype = WideDtype | Fp8Dtype;

/** The dtypes merges are computed in and written as. */
export type WideDtype = 'BF16' | 'F16' | 'F32' | 'F64';

/** The dtype a merge of tensors stored as `d` is written as when the recipe names none: FP8 is written as bf16. */
export function mergedDtype(d: FloatDtype): WideDtype {
  return d === 'F8_E4M3' || d === 'F8_E5M2' ? 'BF16' : d;
}

/** Every dtype a safetensors header may declare, with its item size in bytes. */
export const SAFETENSORS_DTYPES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  U64: 8,
  I64: 8,
  F64: 8,
};

export const FLOAT_DTYPES: readonly FloatDtype[] = ['BF16', 'F16', 'F32', 'F64', 'F8_E4M3', 'F8_E5M2'];

export function isFloatDtype(d: string): d is FloatDtype {
  return (FLOAT_DTYPES as readonly string[]).includes(d);
}

export function itemSize(d: FloatDtype): number {
  return d === 'F64' ? 8 : d === 'F32' ? 4 : d === 'BF16' || d === 'F16' ? 2 : 1;
}

/** Numeric code shared with the WebAssembly kernels (asm/codec.ts). */
export function dtypeCode(d: FloatDtype): number {
  return { BF16: 0, F16: 1, F32: 2, F64: 3, F8_E4M3: 4, F8_E5M2: 5 }[d];
}

/** Recipe / Hugging Face names (`bfloat16`, `float16`, `float32`, `float64`). */
const TORCH_NAMES: Record<string, WideDtype> = {
  bfloat16: 'BF16',
  bf16: 'BF16',
  float16: 'F16',
  fp16: 'F16',
  half: 'F16',
  float32: 'F32',
  fp32: 'F32',
  float: 'F32',
  float64: 'F64',
  fp64: 'F64',
  double: 'F64',
};

export function dtypeFromTorchName(name: string): WideDtype | undefined {
  return TORCH_NAMES[name.toLowerCase()];
}

export function torchName(d: FloatDtype): string {
  return { BF16: 'bfloat16', F16: 'float16', F32: 'float32', F64: 'float64', F8_E4M3: 'float8_e4m3fn', F8_E5M2: 'float8_e5m2' }[d];
}

export const TORCH_DTYPE_NAMES: readonly string[] = Object.keys(TORCH_NAMES);
