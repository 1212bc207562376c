// The mixture-of-experts MLP of a decoder layer as ONNX: router scores (softmax, or sigmoid with
// DeepSeek's group-limited choice on scores + correction bias), top-k gates (renormalised and
// scaled as the family does), every expert applied to every row and weighted by its gate (zero
// for experts a row is not routed to: exact, at experts × the work of one), plus shared experts.
// Per-expert statistics average only over the real tokens routed to the expert.
import type { Graph } from './graph.js';
import type { LlamaConfig } from './llama-config.js';
import { type BatchValues, linear, silu } from './graph-ops.js';

/** A [N, cols] tensor of zeros with `values` [N, k] scattered at `indices` along the last axis. */
function scatter(g: Graph, like: string, indices: string, values: string): string {
  const zeros = g.op('ConstantOfShape', [g.op('Shape', [like])]);
  return g.op('ScatterElements', [zeros, indices, values], { axis: { i: 1 } });
}

/** float ones of the shape of `x` */
function onesLike(g: Graph, x: string): string {
  return g.op('Add', [g.op('ConstantOfShape', [g.op('Shape', [x])]), g.scalar(1)]);
}

/** [N, experts] gates: the top-k weights of each row at their experts, 0 elsewhere; and the routed mask */
function route(g: Graph, c: LlamaConfig, n2: string, w: Record<string, string>): { gates: string; routed: string } {
  const m = c.moe!;
  const logits = linear(g, n2, w.router!);
  const scores = m.scoring === 'softmax' ? g.op('Softmax', [logits], { axis: { i: -1 } }) : g.op('Sigmoid', [logits]);
  let choice = m.correctionBias ? g.op('Add', [scores, w.router_bias!]) : scores;
  if (m.groups > 1) {
    const per = m.experts / m.groups;
    const grouped = g.op('Reshape', [choice, g.ints([0, m.groups, per])]);
    const [best2] = g.ops('TopK', [grouped, g.ints([Math.min(2, per)])], 2, { axis: { i: -1 } });
    const groupScores = g.op('ReduceSum', [best2!, g.ints([-1])], { keepdims: { i: 0 } });
    const [, groupIdx] = g.ops('TopK', [groupScores, g.ints([m.topKGroups])], 2, { axis: { i: -1 } });
    const groupMask = scatter(g, groupScores, groupIdx!, onesLike(g, groupIdx!));
    const mask = g.op('Reshape', [
      g.op('Mul', [g.op('Unsqueeze', [groupMask, g.ints([-1])]), g.constant(Array(per).fill(1), 'float', [1, 1, per])]),
      g.ints([0, m.experts]),
    ]);
    choice = g.op('Where', [g.op('Greater', [mask, g.scalar(0)]), choice, g.scalar(0)]);
  }
  const [, idx] = g.ops('TopK', [choice, g.ints([m.topK])], 2, { axis: { i: -1 } });
  let weights = g.op('GatherElements', [scores, idx!], { axis: { i: 1 } });
  if (m.normTopK) {
    const sum = g.op('ReduceSum', [weights, g.ints([-1])], { keepdims: { i: 1 } });
    weights = g.op('Div', [weights, m.scoring === 'sigmoid' ? g.op('Add', [sum, g.scalar(1e-20)]) : sum]);
  }
  if (m.scaling !== 1) weights = g.op('Mul', [weights, g.scalar(m.scaling)]);
  return { gates: scatter(g, scores, idx!, weights), routed: scatter(g, scores, idx!, onesLike(g, idx!)) };
}

/** Stacked [E, rows, cols] weights applied to x [N, cols] -> [E, N, rows]. */
const stacked = (g: Graph, x: string, w: string) => g.op('MatMul', [x, g.op('Transpose', [w], { perm: { ints: [0, 2, 1] } })]);

export function moeMlp(g: Graph, c: LlamaConfig, n2: string, w: Record<string, string>, b: BatchValues, stat?: (key: string, value: string) => void): string {
  const m = c.moe!;
  const { gates, routed } = route(g, c, n2, w);
  const act = g.op('Mul', [silu(g, stacked(g, n2, w.experts_gate!)), stacked(g, n2, w.experts_up!)]);
  const y = g.op('MatMul', [act, g.op('Transpose', [w.experts_down!], { perm: { ints: [0, 2, 1] } })]);
  const gateCols = g.op('Unsqueeze', [g.op('Transpose', [gates], { perm: { ints: [1, 0] } }), g.ints([-1])]);
  let out = g.op('ReduceSum', [g.op('Mul', [y, gateCols]), g.ints([0])], { keepdims: { i: 0 } });
  let sharedAct: string | undefined;
  if (m.shared > 0) {
    sharedAct = g.op('Mul', [silu(g, linear(g, n2, w.shared_gate!)), linear(g, n2, w.shared_up!)]);
    out = g.op('Add', [out, linear(g, sharedAct, w.shared_down!)]);
  }
  if (stat) {
    if (sharedAct) stat('shared_act', sharedAct);
    // routed real tokens [B, T, E] and their count per sequence and expert (at least 1)
    const real = g.op('Cast', [g.op('Greater', [b.tokenWeight, g.scalar(0)])], { to: { i: 1 } });
    const mr = g.op('Mul', [g.op('Reshape', [routed, b.shapeBt]), real]);
    const count = g.op('Max', [g.op('ReduceSum', [mr, g.ints([1])], { keepdims: { i: 0 } }), g.scalar(1)]);
    const perCount = g.op('Unsqueeze', [count, g.ints([-1])]);
    const absIn = g.op('Reshape', [g.op('Abs', [n2]), b.shapeBt]);
    stat('expert_in', g.op('Div', [g.op('MatMul', [g.op('Transpose', [mr], { perm: { ints: [0, 2, 1] } }), absIn]), perCount]));
    // |act| [E, N, I] -> [E, B, T, I], weighted by the routed mask [E, B, T, 1], summed over T
    const shapeEbt = g.op('Concat', [g.ints([m.experts]), g.op('Slice', [b.shapeBt, g.ints([0]), g.ints([2]), g.ints([0])]), g.ints([m.intermediate])], {
      axis: { i: 0 },
    });
    const absAct = g.op('Reshape', [g.op('Abs', [act]), shapeEbt]);
    const mrE = g.op('Unsqueeze', [g.op('Transpose', [mr], { perm: { ints: [2, 0, 1] } }), g.ints([-1])]);
    const sums = g.op('ReduceSum', [g.op('Mul', [absAct, mrE]), g.ints([2])], { keepdims: { i: 0 } });
    stat('expert_act', g.op('Div', [g.op('Transpose', [sums], { perm: { ints: [1, 0, 2] } }), perCount]));
  }
  return out;
}
