// One stage of the activation-statistics job for one chain of calibration sequences: a decoder
// layer (the first also embeds the tokens) or the head. It reads the previous hidden states
// from shared storage, runs every batch of the chain through the stage, writes the next hidden
// states and the stage's statistics summed over the chain's sequences (in order, float64).
import { readFile, writeFile } from 'node:fs/promises';
import { makeBatch, batches } from './batch.js';
import { accumulate } from './forward.js';
import { LAYER_TENSORS, type LayerWeight } from './llama-graphs.js';
import { ModelError } from './llama-config.js';
import { type Device, LlamaRuntime } from './runtime.js';

export interface ActivationStage {
  model: string;
  device: Device;
  /** layer index, or 'head' */
  stage: number | 'head';
  /** JSON file: the chain's token sequences */
  sequences: string;
  /** hidden states in (absent for layer 0: it embeds the tokens) */
  input?: string;
  /** hidden states out (layers only) */
  output?: string;
  /** JSON file: tensor name -> channel sums over the chain's sequences */
  stats: string;
  batchSize: number;
}

// one runtime per thread and model: sessions are reused by the next stages
const runtimes = new Map<string, Promise<LlamaRuntime>>();

function runtime(model: string, device: Device): Promise<LlamaRuntime> {
  const key = `${device}:${model}`;
  let rt = runtimes.get(key);
  if (!rt) {
    rt = LlamaRuntime.open(model, { device, threads: 1 });
    rt.catch(() => runtimes.delete(key));
    runtimes.set(key, rt);
  }
  return rt;
}

export async function runActivationStage(s: ActivationStage): Promise<{ tokens: number; bytesWritten: number }> {
  const rt = await runtime(s.model, s.device);
  const c = rt.config;
  const seqs = JSON.parse(await readFile(s.sequences, 'utf8')) as number[][];
  const plan = batches(seqs, s.batchSize).map((g) => makeBatch(c, g));
  const width = c.hidden;
  // hidden states of every batch, concatenated: [B * T, hidden] each
  let hidden: Float32Array[];
  if (s.input === undefined) {
    if (s.stage !== 0) throw new ModelError(s.sequences, `stage ${s.stage} needs the hidden states of the previous stage`);
    const table = await rt.loadEmbedding();
    hidden = await Promise.all(plan.map((b) => rt.embed(table, b)));
  } else {
    const raw = await readFile(s.input);
    const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const expected = plan.reduce((n, b) => n + b.size * b.length * width, 0);
    if (all.length !== expected) throw new ModelError(s.input, `holds ${all.length} values, expected ${expected} for these sequences`);
    let at = 0;
    hidden = plan.map((b) => all.subarray(at, (at += b.size * b.length * width)));
  }
  const sums = new Map<string, Float64Array>();
  let bytesWritten = 0;
  if (s.stage === 'head') {
    const w = await rt.loadHead();
    for (const [k, b] of plan.entries()) {
      const r = await rt.head(w, b, hidden[k]!, [0], true);
      accumulate(sums, r.stats, b, (key) => (key === 'norm' ? 'model.norm.weight' : 'lm_head.weight'));
    }
    if (c.tied) sums.delete('lm_head.weight');
  } else {
    const layer = s.stage;
    const w = await rt.loadLayer(layer);
    const next: Float32Array[] = [];
    for (const [k, b] of plan.entries()) {
      const r = await rt.layer(w, b, hidden[k]!, true);
      next.push(r.hidden);
      accumulate(sums, r.stats, b, (key) => `model.layers.${layer}.${LAYER_TENSORS[key as LayerWeight]}`);
    }
    if (!s.output) throw new ModelError(s.sequences, `layer ${layer}: no output for the hidden states`);
    const out = new Uint8Array(next.reduce((n, h) => n + h.byteLength, 0));
    let at = 0;
    for (const h of next) { out.set(new Uint8Array(h.buffer, h.byteOffset, h.byteLength), at); at += h.byteLength; }
    await writeFile(s.output, out);
    bytesWritten += out.byteLength;
  }
  const json = JSON.stringify(Object.fromEntries([...sums].map(([k, v]) => [k, Array.from(v)])));
  await writeFile(s.stats, json);
  return { tokens: plan.reduce((n, b) => n + b.lengths.reduce((a, x) => a + x, 0), 0), bytesWritten: bytesWritten + json.length };
}
