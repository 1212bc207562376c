// ONNX graphs of the Llama family, one per stage of a layer-by-layer forward pass: token
// embedding, one decoder layer (one graph per kind of layer, dense or MoE: weights are graph
// inputs), and the head (final norm, row selection, lm_head). Activations are 2-D [tokens,
// channels] rows of a right-padded batch; attention is grouped-query with rotary embeddings (HF
// rotate-half) or DeepSeek's latent attention. With `stats`, each graph also outputs, per
// sequence, the mean |x| over its real tokens of the input of every module that consumes an
// activation (per expert: over the tokens routed to it).
import { attention } from './attention-graphs.js';
import { Graph } from './graph.js';
import { type BatchValues, batchInputs, linear, rmsnorm, sequenceMeanAbs, silu } from './graph-ops.js';
import type { LlamaConfig } from './llama-config.js';
import { type LayerKind, layerInputs, layerStats } from './layer-spec.js';
import { moeMlp } from './moe-graph.js';

export const HEAD_STATS: Record<string, 'norm' | 'lm_head'> = { 'stat.final': 'norm', 'stat.head_in': 'lm_head' };

export interface LayerHooks {
  /** receives the statistics values by key (see layerStats): [B, width], or [B, experts, width] per expert */
  stat?: (key: string, value: string) => void;
  /** receives the probe values */
  probe?: (name: string, value: string) => void;
  /** keys and values of earlier positions [B, kv heads, 1, P, head dim] (decoding with a cache) */
  past?: { k: string; v: string };
  /** receives the keys (after rotary) and values of every position, past included */
  kv?: (k: string, v: string) => void;
}

/** Adds one decoder layer to `g`: x [N, hidden] -> [N, hidden]. `w` names the weight values by input key. */
export function addLayer(g: Graph, c: LlamaConfig, kind: LayerKind, x: string, w: Record<string, string>, b: BatchValues, hooks: LayerHooks = {}): string {
  const { stat, probe } = hooks;
  const rows = stat ? (key: string, v: string) => stat(key, sequenceMeanAbs(g, v, b)) : undefined;
  const n1 = rmsnorm(g, x, w.ln1!, c.eps);
  const attn = attention(g, c, n1, w, b, {
    ...(hooks.past ? { past: hooks.past } : {}),
    ...(hooks.kv ? { kv: hooks.kv } : {}),
    ...(rows ? { stat: rows } : {}),
  });
  const mid = g.op('Add', [x, linear(g, attn.rows, w.o!)]);
  const n2 = rmsnorm(g, mid, w.ln2!, c.eps);
  let mlp: string;
  if (kind === 'moe') mlp = moeMlp(g, c, n2, w, b, stat ? (key, v) => (key.startsWith('expert_') ? stat(key, v) : rows!(key, v)) : undefined);
  else {
    const act = g.op('Mul', [silu(g, linear(g, n2, w.gate!)), linear(g, n2, w.up!)]);
    rows?.('mlp_act', act);
    mlp = linear(g, act, w.down!);
  }
  const out = g.op('Add', [mid, mlp]);
  if (probe) {
    // attention probabilities [B, heads, T, T] (head h = kv * group + i), and the mean hidden state of each sequence
    const dim = (from: number) => g.op('Slice', [b.shapeQ, g.ints([from]), g.ints([from + 1]), g.ints([0])]);
    probe('probe.attention', g.op('Reshape', [attn.probs, g.op('Concat', [dim(0), g.ints([c.heads]), dim(1), dim(1)], { axis: { i: 0 } })]));
    probe('probe.hidden', g.op('ReduceSum', [g.op('Mul', [g.op('Reshape', [out, b.shapeBt]), b.tokenWeight]), g.ints([1])], { keepdims: { i: 0 } }));
  }
  if (rows) {
    rows('resid', x);
    rows('attn_in', n1);
    rows('attn_out', attn.rows);
    rows('mid', mid);
    rows('mlp_in', n2);
  }
  return out;
}

/** ids [N] -> hidden states [N, hidden] */
export function embedGraph(c: LlamaConfig): Uint8Array {
  const g = new Graph('embed');
  const table = g.input('embed', [c.vocabSize, c.hidden]);
  const ids = g.input('ids', ['N'], 'int64');
  g.output(g.op('Gather', [table, ids], { axis: { i: 0 } }), 'hidden', ['N', c.hidden]);
  return g.encode();
}

/** `stats`: activation statistics outputs; `probe`: attention probabilities and mean hidden states; `kv`: keys and values for decoding */
export type LayerOutputs = 'hidden' | 'stats' | 'probe' | 'kv';

/** the weight inputs of a layer graph, by key */
function weightInputs(g: Graph, c: LlamaConfig, kind: LayerKind): Record<string, string> {
  return Object.fromEntries(layerInputs(c, kind).map((i) => [i.key, g.input(`w.${i.key}`, i.shape)]));
}

/** [B, kv heads, 1, positions, dim] of the cached keys and values */
function kvDims(c: LlamaConfig, positions: string): { k: (string | number)[]; v: (string | number)[] } {
  const kDim = c.headDim,
    vDim = c.mla ? c.mla.v : c.headDim;
  return { k: ['B', c.kvHeads, 1, positions, kDim], v: ['B', c.kvHeads, 1, positions, vDim] };
}

export function layerGraph(c: LlamaConfig, kind: LayerKind, outputs: LayerOutputs): Uint8Array {
  const g = new Graph('layer');
  const x = g.input('hidden', ['N', c.hidden]);
  const w = weightInputs(g, c, kind);
  const b = batchInputs(g, c);
  const stats = new Map(layerStats(c, kind).map((s) => [s.key, s]));
  const dims = kvDims(c, 'T');
  const out = addLayer(g, c, kind, x, w, b, {
    ...(outputs === 'stats'
      ? {
          stat: (key: string, v: string) => {
            const s = stats.get(key);
            if (s) g.output(v, `stat.${key}`, s.perExpert ? ['B', c.moe!.experts, s.width] : ['B', s.width]);
          },
        }
      : {}),
    ...(outputs === 'probe'
      ? { probe: (name: string, v: string) => g.output(v, name, name === 'probe.hidden' ? ['B', c.hidden] : ['B', c.heads, 'T', 'T']) }
      : {}),
    ...(outputs === 'kv'
      ? {
          kv: (k: string, v: string) => {
            g.output(k, 'present_k', dims.k);
            g.output(v, 'present_v', dims.v);
          },
        }
      : {}),
  });
  g.output(out, 'hidden_out', ['N', c.hidden]);
  return g.encode();
}

/**
 * One decoding step of a layer with a key/value cache: one new token per sequence (hidden
 * [B, hidden]) at its own position (cos/sin [B, 1, 1, 1, rotary dim]), attending to the cached
 * positions and itself (bias [B, 1, 1, 1, P + 1]); outputs the grown cache.
 */
export function decodeLayerGraph(c: LlamaConfig, kind: LayerKind): Uint8Array {
  const g = new Graph('decode');
  const x = g.input('hidden', ['B', c.hidden]);
  const w = weightInputs(g, c, kind);
  const b: BatchValues = {
    bias: g.input('bias', ['B', 1, 1, 1, 'S']),
    cos: g.input('cos', ['B', 1, 1, 1, c.ropeDim]),
    sin: g.input('sin', ['B', 1, 1, 1, c.ropeDim]),
    shapeQ: g.input('shape_q', [5], 'int64'),
    shapeKv: g.input('shape_kv', [5], 'int64'),
    shapeBt: g.input('shape_bt', [3], 'int64'),
    shapeRows: g.input('shape_rows', [2], 'int64'),
    tokenWeight: g.input('token_weight', ['B', 1, 1]),
  };
  const pastDims = kvDims(c, 'P'),
    presentDims = kvDims(c, 'S');
  const past = { k: g.input('past_k', pastDims.k), v: g.input('past_v', pastDims.v) };
  const out = addLayer(g, c, kind, x, w, b, {
    past,
    kv: (k, v) => {
      g.output(k, 'present_k', presentDims.k);
      g.output(v, 'present_v', presentDims.v);
    },
  });
  g.output(out, 'hidden_out', ['B', c.hidden]);
  return g.encode();
}

/** hidden [N, hidden], rows [R] -> logits [R, vocab] (final norm over all rows, lm_head on the selected ones) */
export function headGraph(c: LlamaConfig, stats: boolean): Uint8Array {
  const g = new Graph('head');
  const x = g.input('hidden', ['N', c.hidden]);
  const norm = g.input('w.norm', [c.hidden]);
  const head = g.input('w.lm_head', [c.vocabSize, c.hidden]);
  const rows = g.input('rows', ['R'], 'int64');
  const b = stats ? batchInputs(g, c) : undefined;
  const normed = rmsnorm(g, x, norm, c.eps);
  if (b) {
    g.output(sequenceMeanAbs(g, x, b), 'stat.final', ['B', c.hidden]);
    g.output(sequenceMeanAbs(g, normed, b), 'stat.head_in', ['B', c.hidden]);
  }
  g.output(linear(g, g.op('Gather', [normed, rows], { axis: { i: 0 } }), head), 'logits', ['R', c.vocabSize]);
  return g.encode();
}
