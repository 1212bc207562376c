// Llama-shaped synthetic checkpoints (random bf16 weights) for tests and benchmarks: a base,
// and experts that differ from it in a share of their elements, as fine-tunes do.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LlamaShape, createOutputFiles, llamaTensors, planOutput, syntheticConfig, writeAt } from '@tessera/checkpoint';

export type { LlamaShape };

export const TINYLLAMA_1_1B: LlamaShape = { layers: 22, hidden: 2048, intermediate: 5632, vocab: 32000, heads: 32, kvHeads: 4 };

/** config.json of a synthetic test model (positions and RoPE base of the zoo's models). */
function llamaConfig(s: LlamaShape): Record<string, unknown> {
  return { ...syntheticConfig(s), max_position_embeddings: 2048, rope_theta: 10000 };
}

/**
 * Fills a Uint32Array (two bf16 per word) deterministically. The base holds values of magnitude
 * 2^-8..2^-5 with random signs; an expert (expert > 0) flips the 3 low mantissa bits of every
 * element at random: a dense, small task vector (about 1 in 8 entries is zero), as fine-tunes have.
 */
function fill(words: Uint32Array, seed: number, offset: number, expert: number): void {
  let x = (seed * 0x9e3779b1 + offset * 0x85ebca6b) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const e = ((x >>> 12) & 3) + 0x77;
    let w = ((x & 0x807f807f) | (e << 23) | ((((x >>> 20) & 3) + 0x77) << 7)) >>> 0;
    if (expert > 0) {
      let y = (x ^ Math.imul(expert, 0x27d4eb2f)) >>> 0;
      y ^= y >>> 15;
      y = Math.imul(y, 0x2c1b3c6d) >>> 0;
      y ^= y >>> 12;
      w = (w ^ ((y >>> 8) & 0x00070007)) >>> 0;
    }
    words[i] = w;
  }
}

/** Writes a synthetic checkpoint folder; `expert` 0 is the base, 1.. are its fine-tunes. */
export async function writeSyntheticModel(dir: string, shape: LlamaShape, expert: number, seed = 1): Promise<void> {
  await writeSyntheticTensors(dir, llamaTensors(shape), expert, seed, llamaConfig(shape));
}

/** Writes bf16 tensors of the given shapes (and a config.json) with the values of `fill`. */
export async function writeSyntheticTensors(
  dir: string,
  shapes: { name: string; shape: number[] }[],
  expert: number,
  seed: number,
  config: Record<string, unknown>,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const tensors = shapes.map((t) => ({ ...t, dtype: 'BF16' }));
  const layout = planOutput(tensors, Number.MAX_SAFE_INTEGER);
  await createOutputFiles(dir, layout);
  const file = join(dir, layout.files[0]!.name);
  const chunkWords = 8 << 20;
  const words = new Uint32Array(chunkWords);
  for (const t of layout.files[0]!.tensors) {
    const total = t.byteLength / 4;
    for (let w = 0; w < total; w += chunkWords) {
      const n = Math.min(chunkWords, total - w);
      const view = words.subarray(0, n);
      fill(view, seed, t.offset / 4 + w, expert);
      await writeAt(file, t.offset + w * 4, new Uint8Array(view.buffer, 0, n * 4));
    }
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
}
