// One stage of the activation-statistics job for one chain of calibration sequences: a decoder
// layer (the first also embeds the tokens) or the head. It reads the previous hidden states
// from shared storage, runs every batch of the chain through the stage, writes the next hidden
// states and the stage's statistics summed over the chain's sequences (in order, float64).
import { readFile, writeFile } from 'node:fs/promises';
import { type Batch, makeBatch, batches } from './batch.js';
import { ModelError } from './errors.js';
import { type Device, LlamaRuntime, type StageStats } from './runtime.js';

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
  /** JSON file: tensor name -> channel sums over the chain's sequences (or, for probes, the probe rows) */
  stats: string;
  batchSize: number;
  /** probe representations instead of statistics */
  probe?: boolean;
}

/** A probe representation of one sequence (index within the chain) */
export interface ProbeRow {
  kind: 'hidden' | 'attention' | 'next_token';
  sequence: number;
  /** -1 where it does not apply */
  layer: number;
  head: number;
  values: number[];
}

// the runtime of the last model this thread ran: the next stages reuse its sessions; a stage of
// another model closes it (a long-lived worker does not keep every model it has seen)
let current: { key: string; rt: Promise<LlamaRuntime> } | undefined;

async function runtime(model: string, device: Device): Promise<LlamaRuntime> {
  const key = `${device}:${model}`;
  if (current?.key === key) return current.rt;
  const previous = current;
  const next = { key, rt: LlamaRuntime.open(model, { device, threads: 1 }) };
  current = next;
  next.rt.catch(() => {
    if (current === next) current = undefined;
  });
  await previous?.rt.then(
    (r) => r.close(),
    () => undefined,
  );
  return next.rt;
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
    hidden = await Promise.all(plan.map((b) => rt.embed(table, b.ids)));
  } else {
    const raw = await readFile(s.input);
    const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const expected = plan.reduce((n, b) => n + b.size * b.length * width, 0);
    if (all.length !== expected) throw new ModelError(s.input, `holds ${all.length} values, expected ${expected} for these sequences`);
    let at = 0;
    hidden = plan.map((b) => all.subarray(at, (at += b.size * b.length * width)));
  }
  const sums = new Map<string, Float64Array>();
  const rows: ProbeRow[] = [];
  let bytesWritten = 0;
  const firstOf = (k: number) => plan.slice(0, k).reduce((n, b) => n + b.size, 0);
  if (s.stage === 'head') {
    const w = await rt.loadHead();
    for (const [k, b] of plan.entries()) {
      const last = b.lengths.map((len, q) => q * b.length + len - 1);
      const r = await rt.head(w, b, hidden[k]!, s.probe ? last : [0], !s.probe);
      accumulate(sums, r.stats, b, (key) => (key === 'norm' ? 'model.norm.weight' : 'lm_head.weight'));
      if (s.probe)
        for (let q = 0; q < b.size; q++)
          rows.push({
            kind: 'next_token',
            sequence: firstOf(k) + q,
            layer: -1,
            head: -1,
            values: softmax(r.logits.subarray(q * c.vocabSize, (q + 1) * c.vocabSize)),
          });
    }
    if (c.tied) sums.delete('lm_head.weight');
  } else {
    const layer = s.stage;
    const w = await rt.loadLayer(layer);
    const next: Float32Array[] = [];
    for (const [k, b] of plan.entries()) {
      const r = await rt.layer(w, b, hidden[k]!, s.probe ? 'probe' : 'stats');
      next.push(r.hidden);
      accumulate(sums, r.stats, b, (key) => `model.layers.${layer}.${key}`);
      if (r.probe) rows.push(...layerProbeRows(r.probe, b, c.heads, c.hidden, layer, firstOf(k)));
    }
    if (!s.output) throw new ModelError(s.sequences, `layer ${layer}: no output for the hidden states`);
    const out = new Uint8Array(next.reduce((n, h) => n + h.byteLength, 0));
    let at = 0;
    for (const h of next) {
      out.set(new Uint8Array(h.buffer, h.byteOffset, h.byteLength), at);
      at += h.byteLength;
    }
    await writeFile(s.output, out);
    bytesWritten += out.byteLength;
  }
  const json = s.probe ? JSON.stringify(rows) : JSON.stringify(Object.fromEntries([...sums].map(([k, v]) => [k, Array.from(v)])));
  await writeFile(s.stats, json);
  return { tokens: plan.reduce((n, b) => n + b.lengths.reduce((a, x) => a + x, 0), 0), bytesWritten: bytesWritten + json.length };
}

/** per sequence: its mean hidden state, and per head the attention of its last token over its tokens */
function layerProbeRows(
  p: { attention: Float32Array; hidden: Float32Array },
  b: Batch,
  heads: number,
  width: number,
  layer: number,
  first: number,
): ProbeRow[] {
  const rows: ProbeRow[] = [];
  const T = b.length;
  for (let q = 0; q < b.size; q++) {
    rows.push({ kind: 'hidden', sequence: first + q, layer, head: -1, values: Array.from(p.hidden.subarray(q * width, (q + 1) * width)) });
    const len = b.lengths[q]!;
    for (let h = 0; h < heads; h++) {
      const at = ((q * heads + h) * T + len - 1) * T;
      rows.push({ kind: 'attention', sequence: first + q, layer, head: h, values: Array.from(p.attention.subarray(at, at + len)) });
    }
  }
  return rows;
}

function softmax(logits: Float32Array): number[] {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  let sum = 0;
  const e = Array.from(logits, (x) => {
    const v = Math.exp(x - max);
    sum += v;
    return v;
  });
  return e.map((v) => v / sum);
}

/** Adds the per-sequence rows of `stage` to the sums, sequences in order. */
function accumulate(into: Map<string, Float64Array>, stage: StageStats, batch: Batch, name: (key: string) => string): void {
  for (const [key, rows] of stage) {
    const width = rows.length / batch.size,
      tensor = name(key);
    let sum = into.get(tensor);
    if (!sum) into.set(tensor, (sum = new Float64Array(width)));
    for (let b = 0; b < batch.size; b++) for (let j = 0; j < width; j++) sum[j]! += rows[b * width + j]!;
  }
}
