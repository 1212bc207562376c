/** Floating-point dtypes Tessera merges, named as in safetensors headers. */
export type FloatDtype = 'BF16' | 'F16' | 'F32' | 'F64';

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

export const FLOAT_DTYPES: readonly FloatDtype[] = ['BF16', 'F16', 'F32', 'F64'];

export function isFloatDtype(d: string): d is FloatDtype {
  return (FLOAT_DTYPES as readonly string[]).includes(d);
}

export function itemSize(d: FloatDtype): number {
  return d === 'F64' ? 8 : d === 'F32' ? 4 : 2;
}

/** Numeric code shared with the WebAssembly kernels (asm/codec.ts). */
export function dtypeCode(d: FloatDtype): number {
  return d === 'BF16' ? 0 : d === 'F16' ? 1 : d === 'F32' ? 2 : 3;
}

/** Recipe / Hugging Face names (`bfloat16`, `float16`, `float32`, `float64`). */
const TORCH_NAMES: Record<string, FloatDtype> = {
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

export function dtypeFromTorchName(name: string): FloatDtype | undefined {
  return TORCH_NAMES[name.toLowerCase()];
}

export function torchName(d: FloatDtype): string {
  return d === 'BF16' ? 'bfloat16' : d === 'F16' ? 'float16' : d === 'F32' ? 'float32' : 'float64';
}

export const TORCH_DTYPE_NAMES: readonly string[] = Object.keys(TORCH_NAMES);
