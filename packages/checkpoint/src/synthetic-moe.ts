// Tensor lists and configs of the mixture-of-experts checkpoints people merge at scale, as they
// are published: DeepSeek-V3 (MLA attention, 3 dense layers then 256 routed + 1 shared expert,
// the multi-token-prediction layer 61, FP8 weights with 128×128 block scales), Qwen3-MoE (bf16,
// 128 experts) and Mixtral 8x22B (bf16, 8 experts). A `tiny` size of each keeps the layout with
// small dimensions, for tests.

export interface SyntheticTensor {
  name: string;
  dtype: 'BF16' | 'F32' | 'F8_E4M3';
  shape: number[];
}

interface DeepSeekShape {
  layers: number;
  dense: number;
  hidden: number;
  intermediate: number;
  moeIntermediate: number;
  experts: number;
  vocab: number;
  heads: number;
  qLora: number;
  kvLora: number;
  nope: number;
  rope: number;
  v: number;
}

interface MoeShape {
  layers: number;
  hidden: number;
  intermediate: number;
  experts: number;
  vocab: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

const DEEPSEEK: Record<string, DeepSeekShape> = {
  '671b': {
    layers: 61,
    dense: 3,
    hidden: 7168,
    intermediate: 18432,
    moeIntermediate: 2048,
    experts: 256,
    vocab: 129280,
    heads: 128,
    qLora: 1536,
    kvLora: 512,
    nope: 128,
    rope: 64,
    v: 128,
  },
  tiny: {
    layers: 3,
    dense: 1,
    hidden: 256,
    intermediate: 384,
    moeIntermediate: 128,
    experts: 4,
    vocab: 512,
    heads: 2,
    qLora: 128,
    kvLora: 64,
    nope: 32,
    rope: 16,
    v: 32,
  },
};
const QWEN3: Record<string, MoeShape> = {
  '235b': { layers: 94, hidden: 4096, intermediate: 1536, experts: 128, vocab: 151936, heads: 64, kvHeads: 4, headDim: 128 },
  tiny: { layers: 2, hidden: 128, intermediate: 64, experts: 4, vocab: 512, heads: 4, kvHeads: 2, headDim: 32 },
};
const MIXTRAL: Record<string, MoeShape> = {
  '8x22b': { layers: 56, hidden: 6144, intermediate: 16384, experts: 8, vocab: 32768, heads: 48, kvHeads: 8, headDim: 128 },
  tiny: { layers: 2, hidden: 128, intermediate: 192, experts: 4, vocab: 512, heads: 4, kvHeads: 2, headDim: 32 },
};

export interface MoeFamily {
  tensors: SyntheticTensor[];
  config: Record<string, unknown>;
}

/** The family and size of a synthetic MoE name (`deepseek-v3-671b`, `qwen3-moe-tiny`, ...), or undefined. */
export function moeFamily(name: string): MoeFamily | undefined {
  let m = /^deepseek-v3-([a-z0-9]+)$/.exec(name);
  if (m && DEEPSEEK[m[1]!]) return deepseek(DEEPSEEK[m[1]!]!);
  m = /^qwen3-moe-([a-z0-9]+)$/.exec(name);
  if (m && QWEN3[m[1]!]) return qwen3(QWEN3[m[1]!]!);
  m = /^mixtral-([a-z0-9]+)$/.exec(name);
  if (m && MIXTRAL[m[1]!]) return mixtral(MIXTRAL[m[1]!]!);
  return undefined;
}

export const MOE_NAMES = ['deepseek-v3-<671b|tiny>', 'qwen3-moe-<235b|tiny>', 'mixtral-<8x22b|tiny>'];

function deepseek(s: DeepSeekShape): MoeFamily {
  const t: SyntheticTensor[] = [];
  const bf16 = (name: string, shape: number[]) => t.push({ name, dtype: 'BF16', shape });
  // an FP8 weight and its float32 block scales
  const fp8 = (name: string, shape: [number, number]) => {
    t.push({ name, dtype: 'F8_E4M3', shape });
    t.push({ name: `${name}_scale_inv`, dtype: 'F32', shape: [Math.ceil(shape[0] / 128), Math.ceil(shape[1] / 128)] });
  };
  const mlp = (p: string, inter: number) => {
    fp8(`${p}gate_proj.weight`, [inter, s.hidden]);
    fp8(`${p}up_proj.weight`, [inter, s.hidden]);
    fp8(`${p}down_proj.weight`, [s.hidden, inter]);
  };
  const layer = (l: number) => {
    const p = `model.layers.${l}.`;
    bf16(`${p}input_layernorm.weight`, [s.hidden]);
    fp8(`${p}self_attn.q_a_proj.weight`, [s.qLora, s.hidden]);
    bf16(`${p}self_attn.q_a_layernorm.weight`, [s.qLora]);
    fp8(`${p}self_attn.q_b_proj.weight`, [s.heads * (s.nope + s.rope), s.qLora]);
    fp8(`${p}self_attn.kv_a_proj_with_mqa.weight`, [s.kvLora + s.rope, s.hidden]);
    bf16(`${p}self_attn.kv_a_layernorm.weight`, [s.kvLora]);
    fp8(`${p}self_attn.kv_b_proj.weight`, [s.heads * (s.nope + s.v), s.kvLora]);
    fp8(`${p}self_attn.o_proj.weight`, [s.hidden, s.heads * s.v]);
    bf16(`${p}post_attention_layernorm.weight`, [s.hidden]);
    if (l < s.dense) return mlp(`${p}mlp.`, s.intermediate);
    bf16(`${p}mlp.gate.weight`, [s.experts, s.hidden]);
    t.push({ name: `${p}mlp.gate.e_score_correction_bias`, dtype: 'F32', shape: [s.experts] });
    for (let e = 0; e < s.experts; e++) mlp(`${p}mlp.experts.${e}.`, s.moeIntermediate);
    mlp(`${p}mlp.shared_experts.`, s.moeIntermediate);
  };
  bf16('model.embed_tokens.weight', [s.vocab, s.hidden]);
  for (let l = 0; l < s.layers; l++) layer(l);
  // the multi-token-prediction layer: a decoder layer with its own projections and head
  const mtp = `model.layers.${s.layers}.`;
  layer(s.layers);
  bf16(`${mtp}embed_tokens.weight`, [s.vocab, s.hidden]);
  bf16(`${mtp}enorm.weight`, [s.hidden]);
  bf16(`${mtp}hnorm.weight`, [s.hidden]);
  fp8(`${mtp}eh_proj.weight`, [s.hidden, 2 * s.hidden]);
  bf16(`${mtp}shared_head.norm.weight`, [s.hidden]);
  bf16(`${mtp}shared_head.head.weight`, [s.vocab, s.hidden]);
  bf16('model.norm.weight', [s.hidden]);
  bf16('lm_head.weight', [s.vocab, s.hidden]);
  return {
    tensors: t,
    config: {
      architectures: ['DeepseekV3ForCausalLM'],
      model_type: 'deepseek_v3',
      hidden_size: s.hidden,
      intermediate_size: s.intermediate,
      moe_intermediate_size: s.moeIntermediate,
      num_hidden_layers: s.layers,
      first_k_dense_replace: s.dense,
      n_routed_experts: s.experts,
      n_shared_experts: 1,
      num_experts_per_tok: 8,
      num_nextn_predict_layers: 1,
      num_attention_heads: s.heads,
      q_lora_rank: s.qLora,
      kv_lora_rank: s.kvLora,
      qk_nope_head_dim: s.nope,
      qk_rope_head_dim: s.rope,
      v_head_dim: s.v,
      vocab_size: s.vocab,
      torch_dtype: 'bfloat16',
      quantization_config: { activation_scheme: 'dynamic', fmt: 'e4m3', quant_method: 'fp8', weight_block_size: [128, 128] },
    },
  };
}

function attention(t: SyntheticTensor[], p: string, s: MoeShape, qkNorm: boolean) {
  const bf16 = (name: string, shape: number[]) => t.push({ name, dtype: 'BF16', shape });
  bf16(`${p}input_layernorm.weight`, [s.hidden]);
  bf16(`${p}self_attn.q_proj.weight`, [s.heads * s.headDim, s.hidden]);
  bf16(`${p}self_attn.k_proj.weight`, [s.kvHeads * s.headDim, s.hidden]);
  bf16(`${p}self_attn.v_proj.weight`, [s.kvHeads * s.headDim, s.hidden]);
  bf16(`${p}self_attn.o_proj.weight`, [s.hidden, s.heads * s.headDim]);
  if (qkNorm) {
    bf16(`${p}self_attn.q_norm.weight`, [s.headDim]);
    bf16(`${p}self_attn.k_norm.weight`, [s.headDim]);
  }
  bf16(`${p}post_attention_layernorm.weight`, [s.hidden]);
}

function qwen3(s: MoeShape): MoeFamily {
  const t: SyntheticTensor[] = [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [s.vocab, s.hidden] }];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}.`;
    attention(t, p, s, true);
    t.push({ name: `${p}mlp.gate.weight`, dtype: 'BF16', shape: [s.experts, s.hidden] });
    for (let e = 0; e < s.experts; e++)
      t.push(
        { name: `${p}mlp.experts.${e}.gate_proj.weight`, dtype: 'BF16', shape: [s.intermediate, s.hidden] },
        { name: `${p}mlp.experts.${e}.up_proj.weight`, dtype: 'BF16', shape: [s.intermediate, s.hidden] },
        { name: `${p}mlp.experts.${e}.down_proj.weight`, dtype: 'BF16', shape: [s.hidden, s.intermediate] },
      );
  }
  t.push({ name: 'model.norm.weight', dtype: 'BF16', shape: [s.hidden] }, { name: 'lm_head.weight', dtype: 'BF16', shape: [s.vocab, s.hidden] });
  return {
    tensors: t,
    config: {
      architectures: ['Qwen3MoeForCausalLM'],
      model_type: 'qwen3_moe',
      hidden_size: s.hidden,
      moe_intermediate_size: s.intermediate,
      num_hidden_layers: s.layers,
      num_experts: s.experts,
      num_experts_per_tok: 8,
      num_attention_heads: s.heads,
      num_key_value_heads: s.kvHeads,
      head_dim: s.headDim,
      vocab_size: s.vocab,
      torch_dtype: 'bfloat16',
    },
  };
}

function mixtral(s: MoeShape): MoeFamily {
  const t: SyntheticTensor[] = [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [s.vocab, s.hidden] }];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}.`;
    attention(t, p, s, false);
    t.push({ name: `${p}block_sparse_moe.gate.weight`, dtype: 'BF16', shape: [s.experts, s.hidden] });
    for (let e = 0; e < s.experts; e++)
      t.push(
        { name: `${p}block_sparse_moe.experts.${e}.w1.weight`, dtype: 'BF16', shape: [s.intermediate, s.hidden] },
        { name: `${p}block_sparse_moe.experts.${e}.w2.weight`, dtype: 'BF16', shape: [s.hidden, s.intermediate] },
        { name: `${p}block_sparse_moe.experts.${e}.w3.weight`, dtype: 'BF16', shape: [s.intermediate, s.hidden] },
      );
  }
  t.push({ name: 'model.norm.weight', dtype: 'BF16', shape: [s.hidden] }, { name: 'lm_head.weight', dtype: 'BF16', shape: [s.vocab, s.hidden] });
  return {
    tensors: t,
    config: {
      architectures: ['MixtralForCausalLM'],
      model_type: 'mixtral',
      hidden_size: s.hidden,
      intermediate_size: s.intermediate,
      num_hidden_layers: s.layers,
      num_local_experts: s.experts,
      num_experts_per_tok: 2,
      num_attention_heads: s.heads,
      num_key_value_heads: s.kvHeads,
      vocab_size: s.vocab,
      torch_dtype: 'bfloat16',
    },
  };
}
