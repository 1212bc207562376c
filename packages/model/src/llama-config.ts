// The Llama-family settings of a checkpoint's config.json (Llama, Mistral, Qwen3 and the
// mixture-of-experts families Mixtral, Qwen3-MoE and DeepSeek-V3), validated: the forward pass
// refuses what it does not implement instead of computing something else.
import { ModelError } from './errors.js';
import { type MlaConfig, type MoeConfig, mlaConfig, moeConfig } from './moe-config.js';

export interface LlamaConfig {
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** the width rotary embeddings turn (head_dim, or MLA's qk_rope_head_dim) */
  ropeDim: number;
  /** rotary pairs are interleaved (DeepSeek's MLA): (2i, 2i + 1) instead of (i, i + d/2) */
  ropeInterleave: boolean;
  /** Qwen3's per-head RMSNorm of queries and keys before the rotary embedding */
  qkNorm: boolean;
  /** multi-head latent attention (DeepSeek-V3) instead of grouped-query attention */
  mla: MlaConfig | undefined;
  /** mixture-of-experts layers */
  moe: MoeConfig | undefined;
  intermediate: number;
  eps: number;
  ropeTheta: number;
  tied: boolean;
  bos: number | undefined;
  eos: number | undefined;
}

const ARCHITECTURES = new Set(['llama', 'mistral', 'qwen3', 'mixtral', 'qwen3_moe', 'deepseek_v3']);

export function llamaConfig(where: string, c: Record<string, unknown> | undefined): LlamaConfig {
  const path = `${where}/config.json`;
  if (!c) throw new ModelError(path, 'missing: the forward pass needs the model configuration');
  const int = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ModelError(path, `${key}: must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const num = (key: string, fallback: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0)) throw new ModelError(path, `${key}: must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  const type = c.model_type;
  if (typeof type !== 'string' || !ARCHITECTURES.has(type))
    throw new ModelError(path, `model_type ${JSON.stringify(type)} is not supported (supported: ${[...ARCHITECTURES].join(', ')})`);
  for (const key of ['attention_bias', 'mlp_bias']) if (c[key] === true) throw new ModelError(path, `${key}: biases are not supported`);
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) throw new ModelError(path, 'rope_scaling is not supported');
  if (typeof c.sliding_window === 'number' && c.use_sliding_window !== false) throw new ModelError(path, 'sliding_window attention is not supported');
  const hidden = int('hidden_size');
  const heads = int('num_attention_heads');
  const kvHeads = int('num_key_value_heads', heads);
  if (heads % kvHeads !== 0) throw new ModelError(path, `num_attention_heads (${heads}) must be a multiple of num_key_value_heads (${kvHeads})`);
  const layers = int('num_hidden_layers');
  const mla = type === 'deepseek_v3' ? mlaConfig(c, int) : undefined;
  const headDim = mla ? mla.nope + mla.rope : int('head_dim', Math.floor(hidden / heads));
  const ropeDim = mla ? mla.rope : headDim;
  if (ropeDim % 2 !== 0) throw new ModelError(path, `${mla ? 'qk_rope_head_dim' : 'head_dim'} must be even for rotary embeddings, got ${ropeDim}`);
  if (mla && kvHeads !== heads) throw new ModelError(path, `num_key_value_heads (${kvHeads}) must equal num_attention_heads (${heads}) for latent attention`);
  const moe = moeConfig(path, type, c, int, layers);
  const token = (key: string) => (typeof c[key] === 'number' ? (c[key] as number) : Array.isArray(c[key]) ? (c[key] as number[])[0] : undefined);
  return {
    vocabSize: int('vocab_size'),
    hidden,
    layers,
    heads,
    kvHeads,
    headDim,
    ropeDim,
    ropeInterleave: mla !== undefined && c.rope_interleave !== false,
    qkNorm: type === 'qwen3' || type === 'qwen3_moe',
    mla,
    moe,
    intermediate: int('intermediate_size'),
    eps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10_000),
    tied: c.tie_word_embeddings === true,
    bos: token('bos_token_id'),
    eos: token('eos_token_id'),
  };
}
