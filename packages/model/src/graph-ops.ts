// Building blocks shared by the layer graphs: RMSNorm, linear layers, the inputs every graph of a
// batch takes, and per-sequence means.
import type { Graph } from './graph.js';
import type { LlamaConfig } from './llama-config.js';

export function rmsnorm(g: Graph, x: string, w: string, eps: number): string {
  const meanSquare = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: { ints: [-1] }, keepdims: { i: 1 } });
  return g.op('Mul', [g.op('Div', [x, g.op('Sqrt', [g.op('Add', [meanSquare, g.scalar(eps)])])]), w]);
}

export const linear = (g: Graph, x: string, w: string) => g.op('Gemm', [x, w], { transB: { i: 1 } });
export const silu = (g: Graph, x: string) => g.op('Mul', [x, g.op('Sigmoid', [x])]);

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
    cos: g.input('cos', ['T', c.ropeDim]),
    sin: g.input('sin', ['T', c.ropeDim]),
    shapeQ: g.input('shape_q', [5], 'int64'),
    shapeKv: g.input('shape_kv', [5], 'int64'),
    shapeBt: g.input('shape_bt', [3], 'int64'),
    shapeRows: g.input('shape_rows', [2], 'int64'),
    tokenWeight: g.input('token_weight', ['B', 'T', 1]),
  };
}

/** per-sequence mean |x| over real tokens: [N, C] -> [B, C] */
export function sequenceMeanAbs(g: Graph, x: string, b: BatchValues): string {
  const perToken = g.op('Mul', [g.op('Reshape', [g.op('Abs', [x]), b.shapeBt]), b.tokenWeight]);
  return g.op('ReduceSum', [perToken, g.ints([1])], { keepdims: { i: 0 } });
}
