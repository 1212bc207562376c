// What one decoder layer of a config takes and gives: its weight inputs (the tensors each reads,
// experts stacked into one input) and its statistics outputs (the tensors each feeds). A dense
// layer has the Llama MLP; a MoE layer a router, stacked experts and maybe shared experts.
import type { LlamaConfig } from './llama-config.js';

export type LayerKind = 'dense' | 'moe';

/** A graph input `w.<key>`: one tensor, or the experts' tensors stacked on a new first axis. */
export interface WeightInput {
  key: string;
  tensors: string[];
  shape: number[];
}

/**
 * A statistics output `stat.<key>`: per sequence [B, width] feeding `tensors`, or, per expert,
 * [B, experts, width] feeding the expert's tensors (`{e}` in the name is its index).
 */
export interface StatOutput {
  key: string;
  tensors: string[];
  width: number;
  perExpert?: boolean;
}

export function layerKind(c: LlamaConfig, layer: number): LayerKind {
  return c.moe?.sparse[layer] ? 'moe' : 'dense';
}

/** the expert tensors of a MoE config: gate, up, down (with `{e}` for the expert) */
function expertNames(c: LlamaConfig): { router: string; gate: string; up: string; down: string } {
  return c.moe?.family === 'mixtral'
    ? {
        router: 'block_sparse_moe.gate.weight',
        gate: 'block_sparse_moe.experts.{e}.w1.weight',
        up: 'block_sparse_moe.experts.{e}.w3.weight',
        down: 'block_sparse_moe.experts.{e}.w2.weight',
      }
    : { router: 'mlp.gate.weight', gate: 'mlp.experts.{e}.gate_proj.weight', up: 'mlp.experts.{e}.up_proj.weight', down: 'mlp.experts.{e}.down_proj.weight' };
}

function attentionInputs(c: LlamaConfig): WeightInput[] {
  const one = (key: string, tensor: string, shape: number[]) => ({ key, tensors: [tensor], shape });
  const m = c.mla;
  if (m) {
    const dq = m.nope + m.rope;
    return [
      ...(m.qLoraRank === undefined
        ? [one('q', 'self_attn.q_proj.weight', [c.heads * dq, c.hidden])]
        : [
            one('q_a', 'self_attn.q_a_proj.weight', [m.qLoraRank, c.hidden]),
            one('q_a_norm', 'self_attn.q_a_layernorm.weight', [m.qLoraRank]),
            one('q_b', 'self_attn.q_b_proj.weight', [c.heads * dq, m.qLoraRank]),
          ]),
      one('kv_a', 'self_attn.kv_a_proj_with_mqa.weight', [m.kvLoraRank + m.rope, c.hidden]),
      one('kv_a_norm', 'self_attn.kv_a_layernorm.weight', [m.kvLoraRank]),
      one('kv_b', 'self_attn.kv_b_proj.weight', [c.heads * (m.nope + m.v), m.kvLoraRank]),
      one('o', 'self_attn.o_proj.weight', [c.hidden, c.heads * m.v]),
    ];
  }
  return [
    one('q', 'self_attn.q_proj.weight', [c.heads * c.headDim, c.hidden]),
    one('k', 'self_attn.k_proj.weight', [c.kvHeads * c.headDim, c.hidden]),
    one('v', 'self_attn.v_proj.weight', [c.kvHeads * c.headDim, c.hidden]),
    ...(c.qkNorm ? [one('q_norm', 'self_attn.q_norm.weight', [c.headDim]), one('k_norm', 'self_attn.k_norm.weight', [c.headDim])] : []),
    one('o', 'self_attn.o_proj.weight', [c.hidden, c.heads * c.headDim]),
  ];
}

export function layerInputs(c: LlamaConfig, kind: LayerKind): WeightInput[] {
  const one = (key: string, tensor: string, shape: number[]) => ({ key, tensors: [tensor], shape });
  const norms = [one('ln1', 'input_layernorm.weight', [c.hidden]), one('ln2', 'post_attention_layernorm.weight', [c.hidden])];
  if (kind === 'dense')
    return [
      ...norms,
      ...attentionInputs(c),
      one('gate', 'mlp.gate_proj.weight', [c.intermediate, c.hidden]),
      one('up', 'mlp.up_proj.weight', [c.intermediate, c.hidden]),
      one('down', 'mlp.down_proj.weight', [c.hidden, c.intermediate]),
    ];
  const m = c.moe!;
  const n = expertNames(c);
  const experts = (t: string) => Array.from({ length: m.experts }, (_, e) => t.replace('{e}', String(e)));
  return [
    ...norms,
    ...attentionInputs(c),
    one('router', n.router, [m.experts, c.hidden]),
    ...(m.correctionBias ? [one('router_bias', 'mlp.gate.e_score_correction_bias', [m.experts])] : []),
    { key: 'experts_gate', tensors: experts(n.gate), shape: [m.experts, m.intermediate, c.hidden] },
    { key: 'experts_up', tensors: experts(n.up), shape: [m.experts, m.intermediate, c.hidden] },
    { key: 'experts_down', tensors: experts(n.down), shape: [m.experts, c.hidden, m.intermediate] },
    ...(m.shared > 0
      ? [
          one('shared_gate', 'mlp.shared_experts.gate_proj.weight', [m.shared, c.hidden]),
          one('shared_up', 'mlp.shared_experts.up_proj.weight', [m.shared, c.hidden]),
          one('shared_down', 'mlp.shared_experts.down_proj.weight', [c.hidden, m.shared]),
        ]
      : []),
  ];
}

function attentionStats(c: LlamaConfig): StatOutput[] {
  const m = c.mla;
  if (m) {
    return [
      {
        key: 'attn_in',
        tensors: [m.qLoraRank === undefined ? 'self_attn.q_proj.weight' : 'self_attn.q_a_proj.weight', 'self_attn.kv_a_proj_with_mqa.weight'],
        width: c.hidden,
      },
      ...(m.qLoraRank === undefined
        ? []
        : [
            { key: 'q_a', tensors: ['self_attn.q_a_layernorm.weight'], width: m.qLoraRank },
            { key: 'q_a_normed', tensors: ['self_attn.q_b_proj.weight'], width: m.qLoraRank },
          ]),
      { key: 'kv_a', tensors: ['self_attn.kv_a_layernorm.weight'], width: m.kvLoraRank },
      { key: 'kv_a_normed', tensors: ['self_attn.kv_b_proj.weight'], width: m.kvLoraRank },
      { key: 'attn_out', tensors: ['self_attn.o_proj.weight'], width: c.heads * m.v },
    ];
  }
  return [
    { key: 'attn_in', tensors: ['self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight'], width: c.hidden },
    { key: 'attn_out', tensors: ['self_attn.o_proj.weight'], width: c.heads * c.headDim },
  ];
}

/** The statistics outputs of a layer (Qwen3's q_norm and k_norm have none: AIM keeps their merged values). */
export function layerStats(c: LlamaConfig, kind: LayerKind): StatOutput[] {
  const common = [
    { key: 'resid', tensors: ['input_layernorm.weight'], width: c.hidden },
    ...attentionStats(c),
    { key: 'mid', tensors: ['post_attention_layernorm.weight'], width: c.hidden },
  ];
  if (kind === 'dense')
    return [
      ...common,
      { key: 'mlp_in', tensors: ['mlp.gate_proj.weight', 'mlp.up_proj.weight'], width: c.hidden },
      { key: 'mlp_act', tensors: ['mlp.down_proj.weight'], width: c.intermediate },
    ];
  const m = c.moe!;
  const n = expertNames(c);
  return [
    ...common,
    {
      key: 'mlp_in',
      tensors: [n.router, ...(m.shared > 0 ? ['mlp.shared_experts.gate_proj.weight', 'mlp.shared_experts.up_proj.weight'] : [])],
      width: c.hidden,
    },
    ...(m.shared > 0 ? [{ key: 'shared_act', tensors: ['mlp.shared_experts.down_proj.weight'], width: m.shared }] : []),
    { key: 'expert_in', tensors: [n.gate, n.up], width: c.hidden, perExpert: true },
    { key: 'expert_act', tensors: [n.down], width: m.intermediate, perExpert: true },
  ];
}
