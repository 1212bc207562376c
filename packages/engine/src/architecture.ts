// Tensor-name conventions of decoder-only language models (Llama, Mistral, Qwen, GPT-2 style),
// as data: layer tensors are `<prefix>.layers.<i>.<rest>` (or `.h.<i>.`); tensors before the
// stack are the embeddings, the others (final norm, lm_head) come after it.

const LAYER = /^(.*?\b(?:layers|h|blocks)\.)(\d+)(\..*)$/;

/** Input embeddings (rows indexed by token id). */
const PRE_LAYER = /(^|\.)(embed_tokens|wte|word_embeddings|embed_in|tok_embeddings)\.weight$/;

/** Output embeddings, and the input embeddings they are tied to when absent. */
const TIED: Readonly<Record<string, readonly string[]>> = {
  'lm_head.weight': ['model.embed_tokens.weight', 'transformer.wte.weight', 'model.embed_in.weight', 'tok_embeddings.weight'],
  'embed_out.weight': ['gpt_neox.embed_in.weight'],
  'output.weight': ['tok_embeddings.weight'],
};

/** The layer index of a tensor name, or undefined for a tensor outside the layer stack. */
export function layerIndex(name: string): number | undefined {
  const m = LAYER.exec(name);
  return m ? Number(m[2]) : undefined;
}

/** The same name with another layer index. */
export function withLayer(name: string, layer: number): string {
  return name.replace(LAYER, (_, pre: string, _i: string, post: string) => `${pre}${layer}${post}`);
}

export function isPreLayer(name: string): boolean {
  return layerIndex(name) === undefined && PRE_LAYER.test(name);
}

/** Embedding matrices: their rows follow the vocabulary. */
export function isEmbedding(name: string): boolean {
  return PRE_LAYER.test(name) || Object.hasOwn(TIED, name);
}

/** Names that stand in for a missing output embedding (tied weights). */
export function tiedTo(name: string): readonly string[] {
  return TIED[name] ?? [];
}

/** Number of layers: config.num_hidden_layers, or one more than the largest index seen when that is more (or there is no config). */
export function layerCount(config: Record<string, unknown> | undefined, names: Iterable<string>): number {
  const n = config?.num_hidden_layers;
  let max = -1;
  for (const name of names) max = Math.max(max, layerIndex(name) ?? -1);
  // layers past num_hidden_layers (DeepSeek-V3's multi-token-prediction layer 61) are layers too
  if (typeof n === 'number' && Number.isInteger(n) && n > 0) return Math.max(n, max + 1);
  return max + 1;
}

/** Gradient position of a tensor: i / (n - 1) inside its slice of n layers (1 when n = 1), 0 outside layers. */
export function gradientPosition(layerInSlice: number | undefined, sliceLayers: number): number {
  if (layerInSlice === undefined) return 0;
  return sliceLayers > 1 ? layerInSlice / (sliceLayers - 1) : 1;
}
