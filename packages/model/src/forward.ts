// The forward pass over many sequences, layer-major: each layer's weights are loaded once and
// every batch goes through them before the next layer is loaded. Optionally sums the activation
// statistics of every module over the sequences (in sequence order, in float64).
import { type Batch, batches, makeBatch } from './batch.js';
import { LAYER_TENSORS, type LayerWeight } from './llama-graphs.js';
import type { LlamaRuntime, StageStats } from './runtime.js';

export interface ForwardOptions {
  /** sequences per batch (default 16) */
  batchSize?: number;
  /** positions whose logits are wanted, per sequence (default: none) */
  positions?: (sequence: number) => readonly number[];
  /** sum the activation statistics (AIM's a_j) over the sequences */
  stats?: boolean;
  onLayer?: (layer: number) => void;
}

export interface ForwardResult {
  /** per sequence: [positions, vocab] row-major */
  logits: Float32Array[];
  /** tensor name -> per input channel sum over sequences of mean |x| over the sequence's tokens */
  stats: Map<string, Float64Array>;
}

export async function forward(rt: LlamaRuntime, seqs: readonly (readonly number[])[], opts: ForwardOptions = {}): Promise<ForwardResult> {
  const c = rt.config;
  const groups = batches(seqs.map((s, i) => ({ s, i })), opts.batchSize ?? 16);
  const plan = groups.map((g) => ({ batch: makeBatch(c, g.map((x) => x.s)), first: g[0]!.i }));
  const stats = new Map<string, Float64Array>();
  const want = opts.stats ?? false;

  const table = await rt.loadEmbedding();
  let hidden = await Promise.all(plan.map((p) => rt.embed(table, p.batch.ids)));
  for (let layer = 0; layer < c.layers; layer++) {
    const w = await rt.loadLayer(layer);
    const next: Float32Array[] = [];
    for (const [k, p] of plan.entries()) {
      const r = await rt.layer(w, p.batch, hidden[k]!, want ? 'stats' : 'hidden');
      next.push(r.hidden);
      accumulate(stats, r.stats, p.batch, (key) => `model.layers.${layer}.${LAYER_TENSORS[key as LayerWeight]}`);
    }
    hidden = next;
    opts.onLayer?.(layer);
  }
  const head = await rt.loadHead();
  const logits: Float32Array[] = [];
  for (const [k, p] of plan.entries()) {
    const B = p.batch.size, T = p.batch.length;
    const positions = Array.from({ length: B }, (_, b) => opts.positions?.(p.first + b) ?? []);
    const rows = positions.flatMap((ps, b) => ps.map((t) => b * T + t));
    const r = await rt.head(head, p.batch, hidden[k]!, rows, want);
    accumulate(stats, r.stats, p.batch, (key) => (key === 'norm' ? 'model.norm.weight' : 'lm_head.weight'));
    let at = 0;
    for (const ps of positions) {
      logits.push(r.logits.slice(at * c.vocabSize, (at + ps.length) * c.vocabSize));
      at += ps.length;
    }
  }
  if (c.tied) stats.delete('lm_head.weight');
  return { logits, stats };
}

/** adds the per-sequence rows of `stage` to the sums, sequences in order */
export function accumulate(into: Map<string, Float64Array>, stage: StageStats, batch: Batch, name: (key: string) => string): void {
  for (const [key, rows] of stage) {
    const width = rows.length / batch.size, tensor = name(key);
    let sum = into.get(tensor);
    if (!sum) into.set(tensor, (sum = new Float64Array(width)));
    for (let b = 0; b < batch.size; b++) for (let j = 0; j < width; j++) sum[j]! += rows[b * width + j]!;
  }
}
