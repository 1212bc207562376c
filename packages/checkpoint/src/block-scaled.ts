// Checkpoints quantised to FP8 with block scales, as DeepSeek-V3/R1 publish them: config.json's
// `quantization_config: {quant_method: fp8, weight_block_size: [128, 128]}`, each 2-D FP8 weight
// W with a float32 companion `W_scale_inv` of ceil(rows / 128) × ceil(cols / 128) scales. The view
// of such a checkpoint has the weights only, each carrying where its scales are; the scales are
// never tensors to merge. What is not this format (per-tensor scales, static activation scales,
// other methods) is refused, so that no scale is ever merged as a number.
import type { Checkpoint, TensorLocation } from './checkpoint.js';
import { CheckpointError } from './errors.js';

export interface BlockScale {
  file: string;
  /** byte offset of the float32 scale tensor */
  offset: number;
  /** [ceil(rows / block[0]), ceil(cols / block[1])] */
  shape: [number, number];
  block: [number, number];
}

const SCALE_SUFFIX = '_scale_inv';

/** The float32 block-scale tensor that goes with a block-scaled FP8 weight. */
export function scaleTensorName(weight: string): string {
  return `${weight}${SCALE_SUFFIX}`;
}

/** The checkpoint as its weights: scaled FP8 weights carry their block scales; anything else quantised is refused. */
export function withBlockScales(c: Checkpoint): Checkpoint {
  const config = `${c.dir}/config.json`;
  const q = c.config?.quantization_config as Record<string, unknown> | undefined;
  const names = [...c.tensors.keys()];
  const stray = names.find((n) => /(?:\.weight_scale|\.input_scale|_scale_inv)$/.test(n));
  if (q === undefined) {
    if (stray !== undefined)
      throw new CheckpointError(c.files[0] ?? c.dir, `tensor ${stray} is a quantisation scale, but config.json has no quantization_config`, stray);
    return c;
  }
  if (q.quant_method !== 'fp8')
    throw new CheckpointError(
      config,
      `quantization_config.quant_method ${JSON.stringify(q.quant_method ?? null)} is not supported (fp8 with weight_block_size is); merge the unquantised weights`,
    );
  const block = q.weight_block_size;
  if (!Array.isArray(block) || block.length !== 2 || !block.every((b) => Number.isInteger(b) && b > 0))
    throw new CheckpointError(
      config,
      `quantization_config.weight_block_size ${JSON.stringify(block ?? null)}: only block-scaled FP8 ([rows, cols]) is supported, not per-tensor scales`,
    );
  if (q.activation_scheme !== undefined && q.activation_scheme !== 'dynamic')
    throw new CheckpointError(config, `quantization_config.activation_scheme ${JSON.stringify(q.activation_scheme)} is not supported (dynamic is)`);
  const [br, bc] = block as [number, number];
  const tensors = new Map<string, TensorLocation>();
  for (const [name, t] of c.tensors) {
    if (name.endsWith(SCALE_SUFFIX)) {
      const weight = name.slice(0, -SCALE_SUFFIX.length);
      if (!c.tensors.has(weight)) throw new CheckpointError(t.file, `scale tensor ${name} has no weight ${weight}`, name);
      continue;
    }
    if (/(?:\.weight_scale|\.input_scale)$/.test(name))
      throw new CheckpointError(t.file, `tensor ${name}: per-tensor scales are not supported (block scales ${SCALE_SUFFIX} are)`, name);
    if (t.dtype !== 'F8_E4M3' && t.dtype !== 'F8_E5M2') {
      tensors.set(name, t);
      continue;
    }
    const s = c.tensors.get(`${name}${SCALE_SUFFIX}`);
    if (!s) throw new CheckpointError(t.file, `FP8 weight ${name} has no scale tensor ${name}${SCALE_SUFFIX}`, name);
    const want = t.shape.length === 2 ? [Math.ceil(t.shape[0]! / br), Math.ceil(t.shape[1]! / bc)] : undefined;
    if (!want) throw new CheckpointError(t.file, `FP8 weight ${name} has shape [${t.shape.join(', ')}]: block scales need a 2-D weight`, name);
    if (s.dtype !== 'F32' || s.shape.join() !== want.join())
      throw new CheckpointError(
        s.file,
        `scale tensor ${name}${SCALE_SUFFIX} is ${s.dtype} [${s.shape.join(', ')}]; ${br}×${bc} blocks of [${t.shape.join(', ')}] need F32 [${want.join(', ')}]`,
        `${name}${SCALE_SUFFIX}`,
      );
    tensors.set(name, { ...t, scale: { file: s.file, offset: s.offset, shape: want as [number, number], block: [br, bc] } });
  }
  return { ...c, tensors };
}
