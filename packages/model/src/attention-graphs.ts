// Self-attention of a decoder layer as ONNX, on the normed input rows n1 [N, hidden]: grouped-
// query attention (optionally with Qwen3's per-head RMSNorm of queries and keys) or DeepSeek's
// multi-head latent attention (low-rank queries and keys/values, a rotary part shared by all
// heads). Heads are laid out [B, kv heads, group, T, dim]; MLA has group 1 and a kv head per head.
import type { Graph } from './graph.js';
import { type BatchValues, linear, rmsnorm } from './graph-ops.js';
import type { LlamaConfig } from './llama-config.js';

export interface AttentionHooks {
  /** keys and values of earlier positions [B, kv heads, 1, P, dim] (decoding with a cache) */
  past?: { k: string; v: string };
  /** receives the keys (after rotary) and values of every position, past included */
  kv?: (k: string, v: string) => void;
  /** receives statistics values (per sequence) by key */
  stat?: (key: string, rows: string) => void;
}

/** HF rotate-half rotary embedding over the last axis (width `dim`) */
function rope(g: Graph, u: string, cos: string, sin: string, dim: number): string {
  const half = dim / 2;
  const u1 = g.op('Slice', [u, g.ints([0]), g.ints([half]), g.ints([-1])]);
  const u2 = g.op('Slice', [u, g.ints([half]), g.ints([dim]), g.ints([-1])]);
  const rotated = g.op('Concat', [g.op('Neg', [u2]), u1], { axis: { i: -1 } });
  return g.op('Add', [g.op('Mul', [u, cos]), g.op('Mul', [rotated, sin])]);
}

/** DeepSeek's interleaved pairs (2i, 2i + 1) moved to (i, i + dim/2) of a 5-D tensor, so rotate-half applies */
function deinterleave(g: Graph, u: string, dim: number): string {
  const pairs = g.op('Reshape', [u, g.ints([0, 0, 0, 0, dim / 2, 2])]);
  return g.op('Reshape', [g.op('Transpose', [pairs], { perm: { ints: [0, 1, 2, 3, 5, 4] } }), g.ints([0, 0, 0, 0, dim])]);
}

const toHeads = (g: Graph, y: string, shape: string) => g.op('Transpose', [g.op('Reshape', [y, shape])], { perm: { ints: [0, 2, 3, 1, 4] } });

/** softmax(q k^T / sqrt(head dim) + bias) v, with the cache hooks; -> rows [N, heads * v dim] and the probabilities */
function attend(g: Graph, c: LlamaConfig, q: string, k: string, v: string, b: BatchValues, hooks: AttentionHooks): { rows: string; probs: string } {
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
  return { rows: g.op('Reshape', [g.op('Transpose', [attn], { perm: { ints: [0, 3, 1, 2, 4] } }), b.shapeRows]), probs };
}

function groupedQuery(g: Graph, c: LlamaConfig, n1: string, w: Record<string, string>, b: BatchValues, hooks: AttentionHooks) {
  let q = toHeads(g, linear(g, n1, w.q!), b.shapeQ);
  let k = toHeads(g, linear(g, n1, w.k!), b.shapeKv);
  if (c.qkNorm) {
    q = rmsnorm(g, q, w.q_norm!, c.eps);
    k = rmsnorm(g, k, w.k_norm!, c.eps);
  }
  q = rope(g, q, b.cos, b.sin, c.headDim);
  k = rope(g, k, b.cos, b.sin, c.headDim);
  return attend(g, c, q, k, toHeads(g, linear(g, n1, w.v!), b.shapeKv), b, hooks);
}

function latent(g: Graph, c: LlamaConfig, n1: string, w: Record<string, string>, b: BatchValues, hooks: AttentionHooks) {
  const m = c.mla!;
  const dq = m.nope + m.rope;
  const bt = g.op('Slice', [b.shapeBt, g.ints([0]), g.ints([2]), g.ints([0])]);
  const shape = (heads: number, width: number) => g.op('Concat', [bt, g.ints([heads, 1, width])], { axis: { i: 0 } });
  const slice = (x: string, from: number, to: number) => g.op('Slice', [x, g.ints([from]), g.ints([to]), g.ints([-1])]);
  let qRows: string;
  if (m.qLoraRank === undefined) qRows = linear(g, n1, w.q!);
  else {
    const qa = linear(g, n1, w.q_a!);
    const qan = rmsnorm(g, qa, w.q_a_norm!, c.eps);
    hooks.stat?.('q_a', qa);
    hooks.stat?.('q_a_normed', qan);
    qRows = linear(g, qan, w.q_b!);
  }
  const q = toHeads(g, qRows, shape(c.heads, dq));
  const kva = linear(g, n1, w.kv_a!);
  const compressed = slice(kva, 0, m.kvLoraRank);
  const normed = rmsnorm(g, compressed, w.kv_a_norm!, c.eps);
  hooks.stat?.('kv_a', compressed);
  hooks.stat?.('kv_a_normed', normed);
  const kv = toHeads(g, linear(g, normed, w.kv_b!), shape(c.heads, m.nope + m.v));
  const turn = (u: string) => rope(g, c.ropeInterleave ? deinterleave(g, u, m.rope) : u, b.cos, b.sin, m.rope);
  const qPe = turn(slice(q, m.nope, dq));
  const kPe = turn(toHeads(g, slice(kva, m.kvLoraRank, m.kvLoraRank + m.rope), shape(1, m.rope)));
  const kNope = slice(kv, 0, m.nope);
  const kPeAll = g.op('Expand', [
    kPe,
    g.op('Concat', [g.op('Slice', [g.op('Shape', [kNope]), g.ints([0]), g.ints([4])]), g.ints([m.rope])], { axis: { i: 0 } }),
  ]);
  const qFull = g.op('Concat', [slice(q, 0, m.nope), qPe], { axis: { i: -1 } });
  const kFull = g.op('Concat', [kNope, kPeAll], { axis: { i: -1 } });
  return attend(g, c, qFull, kFull, slice(kv, m.nope, m.nope + m.v), b, hooks);
}

/** The attention rows (input of o_proj) and probabilities [B, kv heads, group, T, S]. */
export function attention(
  g: Graph,
  c: LlamaConfig,
  n1: string,
  w: Record<string, string>,
  b: BatchValues,
  hooks: AttentionHooks,
): { rows: string; probs: string } {
  return c.mla ? latent(g, c, n1, w, b, hooks) : groupedQuery(g, c, n1, w, b, hooks);
}
