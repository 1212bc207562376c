// Tensor-name conventions of decoder-only language models (Llama, Mistral, Qwen, ...): layer
// tensors are `<prefix>.layers.<i>.<rest>`; others come before (embeddings) or after (final
// norm, lm_head) the layer stack.

const LAYER = /^(.*?\blayers\.)(\d+)(\..*)$/;

/** The layer index of a tensor name, or undefined for a tensor outside the layer stack. */
export function layerIndex(name: string): number | undefined {
  const m = LAYER.exec(name);
  return m ? Number(m[2]) : undefined;
}

/** The same name with another layer index. */
export function withLayer(name: string, layer: number): string {
  return name.replace(LAYER, (_, pre: string, _i: string, post: string) => `${pre}${layer}${post}`);
}

/** Number of layers: config.num_hidden_layers, else one more than the largest index seen. */
export function layerCount(config: Record<string, unknown> | undefined, names: Iterable<string>): number {
  const n = config?.num_hidden_layers;
  if (typeof n === 'number' && Number.isInteger(n) && n > 0) return n;
  let max = -1;
  for (const name of names) max = Math.max(max, layerIndex(name) ?? -1);
  return max + 1;
}

/** Gradient position of a tensor: i / (n - 1) inside its slice of n layers (1 when n = 1), 0 outside layers. */
export function gradientPosition(layerInSlice: number | undefined, sliceLayers: number): number {
  if (layerInSlice === undefined) return 0;
  return sliceLayers > 1 ? layerInSlice / (sliceLayers - 1) : 1;
}
