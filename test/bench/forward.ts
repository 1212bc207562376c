// Forward-pass speed on CPU: prefill and greedy decoding (key/value cache) tokens/s of Tessera's
// onnxruntime graphs and of the same forward pass in PyTorch, measured in the same run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlamaRuntime, generate } from '@tessera/model';
import { type LlamaShape, writeSyntheticModel } from '../support/synthetic.js';
import { PYTHON, torchAvailable } from './merges.js';

export interface ForwardFigures {
  model: string;
  threads: number;
  batch: number;
  promptLen: number;
  newTokens: number;
  prefill: number;
  decode: number;
  torchPrefill?: number;
  torchDecode?: number;
}

const ZOO_BASE = fileURLToPath(new URL('../fixtures/zoo/base', import.meta.url));
/** TinyLlama-1.1B's layer shapes, 2 layers (per-layer time is what matters) */
export const TINYLLAMA_2_LAYERS: LlamaShape = { layers: 2, hidden: 2048, intermediate: 5632, vocab: 32000, heads: 32, kvHeads: 4 };

async function measure(dir: string, label: string, batch: number, promptLen: number, newTokens: number, threads: number): Promise<ForwardFigures> {
  const rt = await LlamaRuntime.open(dir, { threads });
  try {
    const prompts = Array.from({ length: batch }, (_, b) => Array.from({ length: promptLen }, (_, t) => (b * 31 + t * 7) % 250));
    await generate(rt, prompts.slice(0, 1), { maxNewTokens: 2, eos: -1 }); // sessions created, weights read once
    const r = await generate(rt, prompts, { maxNewTokens: newTokens, eos: -1, batchSize: batch });
    const f: ForwardFigures = {
      model: label,
      threads: rt.threads,
      batch,
      promptLen,
      newTokens,
      prefill: r.prefill.tokens / r.prefill.seconds,
      decode: r.decode.tokens / r.decode.seconds,
    };
    if (torchAvailable()) {
      const p = spawnSync(
        PYTHON,
        [fileURLToPath(new URL('./forward_peer.py', import.meta.url)), dir, String(batch), String(promptLen), String(newTokens), String(threads)],
        { encoding: 'utf8' },
      );
      if (p.status !== 0) throw new Error(`torch forward peer failed: ${p.stderr}`);
      const t = JSON.parse(p.stdout) as { prefill_tps: number; decode_tps: number };
      f.torchPrefill = t.prefill_tps;
      f.torchDecode = t.decode_tps;
    }
    return f;
  } finally {
    await rt.close();
  }
}

export async function forwardFigures(dir: string, threads = 2): Promise<ForwardFigures[]> {
  const synthetic = join(dir, 'tinyllama-2-layers');
  if (!existsSync(join(synthetic, 'config.json'))) await writeSyntheticModel(synthetic, TINYLLAMA_2_LAYERS, 0);
  return [
    await measure(ZOO_BASE, 'zoo base (0.8M parameters)', 16, 64, 32, threads),
    await measure(synthetic, 'TinyLlama-1.1B shapes, 2 of 22 layers', 4, 128, 16, threads),
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { tmpdir } = await import('node:os');
  for (const f of await forwardFigures(join(tmpdir(), 'tessera-bench-forward'))) console.log(JSON.stringify(f));
}
