// The forward pass over many sequences, layer-major: each layer's weights are loaded once and
// every batch goes through them before the next layer is loaded.
import { batches, makeBatch } from './batch.js';
import type { LlamaRuntime } from './runtime.js';

export interface ForwardOptions {
  /** sequences per batch (default 16) */
  batchSize?: number;
  /** positions whose logits are wanted, per sequence (default: none) */
  positions?: (sequence: number) => readonly number[];
  onLayer?: (layer: number) => void;
}

export interface ForwardResult {
  /** per sequence: [positions, vocab] row-major */
  logits: Float32Array[];
}

export async function forward(rt: LlamaRuntime, seqs: readonly (readonly number[])[], opts: ForwardOptions = {}): Promise<ForwardResult> {
  const c = rt.config;
  const groups = batches(
    seqs.map((s, i) => ({ s, i })),
    opts.batchSize ?? 16,
  );
  const plan = groups.map((g) => ({
    batch: makeBatch(
      c,
      g.map((x) => x.s),
    ),
    first: g[0]!.i,
  }));

  const table = await rt.loadEmbedding();
  let hidden = await Promise.all(plan.map((p) => rt.embed(table, p.batch.ids)));
  for (let layer = 0; layer < c.layers; layer++) {
    const w = await rt.loadLayer(layer);
    const next: Float32Array[] = [];
    for (const [k, p] of plan.entries()) {
      next.push((await rt.layer(w, p.batch, hidden[k]!, 'hidden')).hidden);
    }
    hidden = next;
    opts.onLayer?.(layer);
  }
  const head = await rt.loadHead();
  const logits: Float32Array[] = [];
  for (const [k, p] of plan.entries()) {
    const B = p.batch.size,
      T = p.batch.length;
    const positions = Array.from({ length: B }, (_, b) => opts.positions?.(p.first + b) ?? []);
    const rows = positions.flatMap((ps, b) => ps.map((t) => b * T + t));
    const r = await rt.head(head, p.batch, hidden[k]!, rows, false);
    let at = 0;
    for (const ps of positions) {
      logits.push(r.logits.slice(at * c.vocabSize, (at + ps.length) * c.vocabSize));
      at += ps.length;
    }
  }
  return { logits };
}
