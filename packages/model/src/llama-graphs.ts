// ONNX graphs of the Llama family, one per stage of a layer-by-layer forward pass: token
// embedding, one decoder layer (the same graph for every layer: weights are graph inputs), and
// the head (final norm, row selection, lm_head). Activations are 2-D [tokens, channels] rows of
// a right-padded batch; attention is grouped-query with rotary embeddings (HF rotate-half).
// With `stats`, each graph also outputs, per sequence, the mean |x| over its real tokens of the
// input of every module that consumes an activation.
import { Graph } from './graph.js';
import type { LlamaConfig } from './llama-config.js';

/** weight inputs of a decoder layer graph, in the order of LAYER_TENSORS */
export const LAYER_WEIGHTS = ['ln1', 'q', 'k', 'v', 'o', 'ln2', 'gate', 'up', 'down'] as const;
export type LayerWeight = (typeof LAYER_WEIGHTS)[number];
export const LAYER_TENSORS: Record<LayerWeight, string> = {
  ln1: 'input_layernorm.weight',
  q: 'self_attn.q_proj.weight',
  k: 'self_attn.k_proj.weight',
  v: 'self_attn.v_proj.weight',
  o: 'self_attn.o_proj.weight',
  ln2: 'post_attention_layernorm.weight',
  gate: 'mlp.gate_proj.weight',
  up: 'mlp.up_proj.weight',
  down: 'mlp.down_proj.weight',
};

/** Which statistics output feeds which tensors of a layer (q, k, v share the normed input, ...). */
export const LAYER_STATS: Record<string, LayerWeight[]> = {
  'stat.resid': ['ln1'],
  'stat.attn_in': ['q', 'k', 'v'],
  'stat.attn_out': ['o'],
  'stat.mid': ['ln2'],
  'stat.mlp_in': ['gate', 'up'],
  'stat.mlp_act': ['down'],
};
export const HEAD_STATS: Record<string, 'norm' | 'lm_head'> = { 'stat.final': 'norm', 'stat.head_in': 'lm_head' };

export function rmsnorm(g: Graph, x: string, w: string, eps: number): string {
  const meanSquare = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: { ints: [-1] }, keepdims: { i: 1 } });
  return g.op('Mul', [g.op('Div', [x, g.op('Sqrt', [g.op('Add', [meanSquare, g.scalar(eps)])])]), w]);
}

const linear = (g: Graph, x: string, w: string) => g.op('Gemm', [x, w], { transB: { i: 1 } });

function rope(g: Graph, u: string, cos: string, sin: string, headDim: number): string {
  const half = headDim / 2;
  const u1 = g.op('Slice', [u, g.ints([0]), g.ints([half]), g.ints([-1])]);
  const u2 = g.op('Slice', [u, g.ints([half]), g.ints([headDim]), g.ints([-1])]);
  const rotated = g.op('Concat', [g.op('Neg', [u2]), u1], { axis: { i: -1 } });
  return g.op('Add', [g.op('Mul', [u, cos]), g.op('Mul', [rotated, sin])]);
}

/** Shared inputs of a batch: see `BatchInputs` in batch.ts for their values. */
export interface BatchValues {
  /** additive attention mask [B, 1, 1, T, T]: 0 where a query may see a key, -1e9 elsewhere */
  bias: string;
  /** rotary tables [T, head_dim] */
  cos: string;
  sin: string;
  /** int64 shapes: [B, T, kv heads, group, head dim], [B, T, kv heads, 1, head dim], [B, T, -1], [N, -1] */
  shapeQ: string;
  shapeKv: string;
  shapeBt: string;
  shapeRows: string;
  /** per-token weight [B, T, 1]: 1/length for real tokens, 0 for padding */
  tokenWeight: string;
}

export function batchInputs(g: Graph, c: LlamaConfig): BatchValues {
  return {
    bias: g.input('bias', ['B', 1, 1, 'T', 'T']),
    cos: g.input('cos', ['T', c.headDim]),
    sin: g.input('sin', ['T', c.headDim]),
    shapeQ: g.input('shape_q', [5], 'int64'),
    shapeKv: g.input('shape_kv', [5], 'int64'),
    shapeBt: g.input('shape_bt', [3], 'int64'),
    shapeRows: g.input('shape_rows', [2], 'int64'),
    tokenWeight: g.input('token_weight', ['B', 'T', 1]),
  };
}

/** per-sequence mean |x| over real tokens: [N, C] -> [B, C] */
function sequenceMeanAbs(g: Graph, x: string, b: BatchValues): string {
  const perToken = g.op('Mul', [g.op('Reshape', [g.op('Abs', [x]), b.shapeBt]), b.tokenWeight]);
  return g.op('ReduceSum', [perToken, g.ints([1])], { keepdims: { i: 0 } });
}

/**
 * Adds one decoder layer to `g`: x [N, hidden] -> [N, hidden]. `w` names the weight values;
 * `stat` receives the statistics values when wanted.
 */
export interface LayerHooks {
  /** receives the statistics values */
  stat?: (name: string, value: string) => void;
  /** receives the probe values */
  probe?: (name: string, value: string) => void;
  /** keys and values of earlier positions [B, kv heads, 1, P, head dim] (decoding with a cache) */
  past?: { k: string; v: string };
  /** receives the keys (after rotary) and values of every position, past included */
  kv?: (k: string, v: string) => void;
}

export function addLayer(g: Graph, c: LlamaConfig, x: string, w: Record<LayerWeight, string>, b: BatchValues, hooks: LayerHooks = {}): string {
  const { stat, probe } = hooks;
  const n1 = rmsnorm(g, x, w.ln1, c.eps);
  const heads = (y: string, shape: string) => g.op('Transpose', [g.op('Reshape', [y, shape])], { perm: { ints: [0, 2, 3, 1, 4] } });
  const q = rope(g, heads(linear(g, n1, w.q), b.shapeQ), b.cos, b.sin, c.headDim);
  let k = rope(g, heads(linear(g, n1, w.k), b.shapeKv), b.cos, b.sin, c.headDim);
  let v = heads(linear(g, n1, w.v), b.shapeKv);
  if (hooks.past) {
    k = g.op('Concat', [hooks.past.k, k], { axis: { i: 3 } });
    v = g.op('Concat', [hooks.past.v, v], { axis: { i: 3 } });
  }
  hooks.kv?.(k, v);
  const scores = g.op('Add', [
    g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: { ints: [0, 1, 2, 4, 3] } })]), g.scalar(1 / Math.sqrt(c.headDim))]),
    b.bias,
  ]);
  const probs = g.op('Softmax', [scores], { axis: { i: -1 } });
  const attn = g.op('MatMul', [probs, v]);
  const attnRows = g.op('Reshape', [g.op('Transpose', [attn], { perm: { ints: [0, 3, 1, 2, 4] } }), b.shapeRows]);
  const mid = g.op('Add', [x, linear(g, attnRows, w.o)]);
  const n2 = rmsnorm(g, mid, w.ln2, c.eps);
  const gate = linear(g, n2, w.gate);
  const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), linear(g, n2, w.up)]);
  const out = g.op('Add', [mid, linear(g, act, w.down)]);
  if (probe) {
    // attention probabilities [B, heads, T, T] (head h = kv * group + i), and the mean hidden state of each sequence
    probe(
      'probe.attention',
      g.op('Reshape', [
        probs,
        g.op(
          'Concat',
          [
            g.op('Slice', [b.shapeQ, g.ints([0]), g.ints([1]), g.ints([0])]),
            g.ints([c.heads]),
            g.op('Slice', [b.shapeQ, g.ints([1]), g.ints([2]), g.ints([0])]),
            g.op('Slice', [b.shapeQ, g.ints([1]), g.ints([2]), g.ints([0])]),
          ],
          { axis: { i: 0 } },
        ),
      ]),
    );
    probe('probe.hidden', g.op('ReduceSum', [g.op('Mul', [g.op('Reshape', [out, b.shapeBt]), b.tokenWeight]), g.ints([1])], { keepdims: { i: 0 } }));
  }
  if (stat) {
    const values: Record<string, string> = {
      'stat.resid': x,
      'stat.attn_in': n1,
      'stat.attn_out': attnRows,
      'stat.mid': mid,
      'stat.mlp_in': n2,
      'stat.mlp_act': act,
    };
    for (const [name, v] of Object.entries(values)) stat(name, sequenceMeanAbs(g, v, b));
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

export function layerGraph(c: LlamaConfig, outputs: LayerOutputs): Uint8Array {
  const g = new Graph('layer');
  const x = g.input('hidden', ['N', c.hidden]);
  const w = Object.fromEntries(LAYER_WEIGHTS.map((k) => [k, g.input(`w.${k}`, layerWeightShape(c, k))])) as Record<LayerWeight, string>;
  const b = batchInputs(g, c);
  const kvDims = ['B', c.kvHeads, 1, 'T', c.headDim];
  const out = addLayer(g, c, x, w, b, {
    ...(outputs === 'stats' ? { stat: (name: string, v: string) => g.output(v, name, ['B', statWidth(c, name)]) } : {}),
    ...(outputs === 'probe'
      ? { probe: (name: string, v: string) => g.output(v, name, name === 'probe.hidden' ? ['B', c.hidden] : ['B', c.heads, 'T', 'T']) }
      : {}),
    ...(outputs === 'kv'
      ? {
          kv: (k: string, v: string) => {
            g.output(k, 'present_k', kvDims);
            g.output(v, 'present_v', kvDims);
          },
        }
      : {}),
  });
  g.output(out, 'hidden_out', ['N', c.hidden]);
  return g.encode();
}

/**
 * One decoding step of a layer with a key/value cache: one new token per sequence (hidden
 * [B, hidden]) at its own position (cos/sin [B, 1, 1, 1, head dim]), attending to the cached
 * positions and itself (bias [B, 1, 1, 1, P + 1]); outputs the grown cache.
 */
export function decodeLayerGraph(c: LlamaConfig): Uint8Array {
  const g = new Graph('decode');
  const x = g.input('hidden', ['B', c.hidden]);
  const w = Object.fromEntries(LAYER_WEIGHTS.map((k) => [k, g.input(`w.${k}`, layerWeightShape(c, k))])) as Record<LayerWeight, string>;
  const b: BatchValues = {
    bias: g.input('bias', ['B', 1, 1, 1, 'S']),
    cos: g.input('cos', ['B', 1, 1, 1, c.headDim]),
    sin: g.input('sin', ['B', 1, 1, 1, c.headDim]),
    shapeQ: g.input('shape_q', [5], 'int64'),
    shapeKv: g.input('shape_kv', [5], 'int64'),
    shapeBt: g.input('shape_bt', [3], 'int64'),
    shapeRows: g.input('shape_rows', [2], 'int64'),
    tokenWeight: g.input('token_weight', ['B', 1, 1]),
  };
  const pastDims = ['B', c.kvHeads, 1, 'P', c.headDim],
    presentDims = ['B', c.kvHeads, 1, 'S', c.headDim];
  const past = { k: g.input('past_k', pastDims), v: g.input('past_v', pastDims) };
  const out = addLayer(g, c, x, w, b, {
    past,
    kv: (k, v) => {
      g.output(k, 'present_k', presentDims);
      g.output(v, 'present_v', presentDims);
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

export function layerWeightShape(c: LlamaConfig, k: LayerWeight): number[] {
  const qWidth = c.heads * c.headDim,
    kvWidth = c.kvHeads * c.headDim;
  switch (k) {
    case 'ln1':
    case 'ln2':
      return [c.hidden];
    case 'q':
      return [qWidth, c.hidden];
    case 'k':
    case 'v':
      return [kvWidth, c.hidden];
    case 'o':
      return [c.hidden, qWidth];
    case 'gate':
    case 'up':
      return [c.intermediate, c.hidden];
    case 'down':
      return [c.hidden, c.intermediate];
  }
}

function statWidth(c: LlamaConfig, name: string): number {
  return name === 'stat.attn_out' ? c.heads * c.headDim : name === 'stat.mlp_act' ? c.intermediate : c.hidden;
}
