// Tensors of a checkpoint widened to float32 (onnxruntime takes no bf16 graph inputs), read one
// at a time through the checkpoint's range sources.
import { type Checkpoint, type RangeSource, openSource } from '@tessera/checkpoint';
import { f16BitsToF32 } from '@tessera/tensor';
import { ModelError } from './errors.js';

export class WeightReader {
  private readonly sources = new Map<string, RangeSource>();
  constructor(private readonly ckpt: Checkpoint) {}

  has(name: string): boolean {
    return this.ckpt.tensors.has(name);
  }

  /** the tensor as float32; its shape must be `shape` */
  async read(name: string, shape: readonly number[]): Promise<Float32Array> {
    const t = this.ckpt.tensors.get(name);
    if (!t) throw new ModelError(this.ckpt.dir, `tensor ${name} is missing`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ModelError(t.file, `tensor ${name}: shape [${t.shape.join(', ')}] does not match the config ([${shape.join(', ')}])`);
    }
    let src = this.sources.get(t.file);
    if (!src) this.sources.set(t.file, (src = openSource(t.file)));
    const bytes = new Uint8Array(t.byteLength);
    await src.readInto(t.offset, bytes);
    return widen(bytes, t.dtype, `${t.file}: tensor ${name}`);
  }

  async close(): Promise<void> {
    await Promise.all([...this.sources.values()].map((s) => s.close()));
    this.sources.clear();
  }
}

export function widen(bytes: Uint8Array, dtype: string, what: string): Float32Array {
  const n = bytes.byteLength;
  switch (dtype) {
    case 'F32':
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + n));
    case 'BF16': {
      const src = new Uint16Array(bytes.buffer, bytes.byteOffset, n / 2),
        out = new Float32Array(n / 2),
        bits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
      return out;
    }
    case 'F16': {
      const src = new Uint16Array(bytes.buffer, bytes.byteOffset, n / 2),
        out = new Float32Array(n / 2);
      for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(src[i]!);
      return out;
    }
    case 'F64':
      return Float32Array.from(new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + n)));
    default:
      throw new ModelError(what, `dtype ${dtype} cannot be used as a weight`);
  }
}
