// The mixture-of-experts and multi-head latent attention settings of config.json, per family:
// Mixtral (softmax router, top-k renormalised), Qwen3-MoE (softmax router, optionally
// renormalised; dense layers by `mlp_only_layers` and `decoder_sparse_step`) and DeepSeek-V3
// (sigmoid scores, group-limited top-k on the scores plus the correction bias, gates from the
// plain scores, renormalised and scaled; shared experts; dense first layers; MLA attention).
import { ModelError } from './errors.js';

export interface MoeConfig {
  /** tensor naming: Mixtral's block_sparse_moe.experts.E.w1/w3/w2, else mlp.experts.E.gate/up/down_proj */
  family: 'mixtral' | 'qwen3_moe' | 'deepseek_v3';
  experts: number;
  topK: number;
  /** an expert's intermediate size */
  intermediate: number;
  /** the shared experts' intermediate size (0: none) */
  shared: number;
  scoring: 'softmax' | 'sigmoid';
  normTopK: boolean;
  scaling: number;
  /** expert groups (1: no group limit) and how many of them the top-k draws from */
  groups: number;
  topKGroups: number;
  /** DeepSeek's e_score_correction_bias: added to the scores for the choice only */
  correctionBias: boolean;
  /** per decoder layer: whether it is a MoE layer (else a dense MLP of intermediate_size) */
  sparse: boolean[];
}

export interface MlaConfig {
  /** q_lora_rank (absent: q_proj straight from the hidden state) */
  qLoraRank: number | undefined;
  kvLoraRank: number;
  nope: number;
  rope: number;
  v: number;
}

type Int = (key: string, fallback?: number) => number;

export function moeConfig(path: string, type: string, c: Record<string, unknown>, int: Int, layers: number): MoeConfig | undefined {
  const bool = (key: string, fallback: boolean) => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'boolean') throw new ModelError(path, `${key}: must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  switch (type) {
    case 'mixtral':
      return {
        family: type,
        experts: int('num_local_experts'),
        topK: int('num_experts_per_tok'),
        intermediate: int('intermediate_size'),
        shared: 0,
        scoring: 'softmax',
        normTopK: true,
        scaling: 1,
        groups: 1,
        topKGroups: 1,
        correctionBias: false,
        sparse: Array(layers).fill(true),
      };
    case 'qwen3_moe': {
      const only = c.mlp_only_layers ?? [];
      if (!Array.isArray(only) || !only.every((l) => Number.isInteger(l)))
        throw new ModelError(path, `mlp_only_layers: must be a list of layer indices, got ${JSON.stringify(only)}`);
      const step = int('decoder_sparse_step', 1);
      return {
        family: type,
        experts: int('num_experts'),
        topK: int('num_experts_per_tok'),
        intermediate: int('moe_intermediate_size'),
        shared: 0,
        scoring: 'softmax',
        normTopK: bool('norm_topk_prob', false),
        scaling: 1,
        groups: 1,
        topKGroups: 1,
        correctionBias: false,
        sparse: Array.from({ length: layers }, (_, i) => !only.includes(i) && (i + 1) % step === 0),
      };
    }
    case 'deepseek_v3': {
      if (c.scoring_func !== undefined && c.scoring_func !== 'sigmoid')
        throw new ModelError(path, `scoring_func ${JSON.stringify(c.scoring_func)} is not supported (sigmoid is)`);
      if (c.topk_method !== undefined && c.topk_method !== 'noaux_tc')
        throw new ModelError(path, `topk_method ${JSON.stringify(c.topk_method)} is not supported (noaux_tc is)`);
      const experts = int('n_routed_experts');
      const groups = int('n_group', 1);
      if (experts % groups !== 0) throw new ModelError(path, `n_routed_experts (${experts}) must be a multiple of n_group (${groups})`);
      const dense = c.first_k_dense_replace ?? 0;
      if (typeof dense !== 'number' || !Number.isInteger(dense) || dense < 0)
        throw new ModelError(path, `first_k_dense_replace: must be a non-negative integer, got ${JSON.stringify(dense)}`);
      const freq = int('moe_layer_freq', 1);
      const scaling = c.routed_scaling_factor ?? 1;
      if (typeof scaling !== 'number' || !(scaling > 0))
        throw new ModelError(path, `routed_scaling_factor: must be a positive number, got ${JSON.stringify(scaling)}`);
      const intermediate = int('moe_intermediate_size');
      const shared = c.n_shared_experts === undefined || c.n_shared_experts === null || c.n_shared_experts === 0 ? 0 : int('n_shared_experts') * intermediate;
      return {
        family: type,
        experts,
        topK: int('num_experts_per_tok'),
        intermediate,
        shared,
        scoring: 'sigmoid',
        normTopK: bool('norm_topk_prob', true),
        scaling,
        groups,
        topKGroups: int('topk_group', 1),
        correctionBias: true,
        sparse: Array.from({ length: layers }, (_, i) => i >= dense && i % freq === 0),
      };
    }
    default:
      return undefined;
  }
}

export function mlaConfig(c: Record<string, unknown>, int: Int): MlaConfig {
  return {
    qLoraRank: c.q_lora_rank === null || c.q_lora_rank === undefined ? undefined : int('q_lora_rank'),
    kvLoraRank: int('kv_lora_rank'),
    nope: int('qk_nope_head_dim'),
    rope: int('qk_rope_head_dim'),
    v: int('v_head_dim'),
  };
}
