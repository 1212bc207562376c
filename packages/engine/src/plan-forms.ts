// The recipe's forms as drafts: one draft per output tensor with its inputs (checkpoint, input
// tensor name, parameter levels) and its gradient position. `models:` is one slice spanning
// every layer; `slices:` stacks layer ranges, renumbered, with the embeddings from the first
// slice and the final norm and lm_head from the last.
import type { Checkpoint, TensorLocation } from '@tessera/checkpoint';
import type { ModelSpec, ParamMap, Recipe, SliceSpec } from '@tessera/recipe';
import { gradientPosition, isPreLayer, layerCount, layerIndex, tiedTo, withLayer } from './architecture.js';

/** One input of an output tensor, before its tensor is located. */
export interface DraftInput {
  ckpt: Checkpoint;
  role: 'base' | 'model';
  /** index among the slice's non-base sources (keys random masks) */
  model: number;
  where: string;
  /** the input's own tensor name (its layer index) */
  name: string;
  levels: (ParamMap | undefined)[];
}

export interface Draft {
  name: string;
  slice: SliceSpec;
  t: number;
  inputs: DraftInput[];
}

export type Open = (m: ModelSpec) => Promise<Checkpoint>;

export function sliceLength(s: SliceSpec): number {
  const r = s.sources[0]!.layerRange;
  return r ? r[1] - r[0] : 0;
}

/** Whether the slice's operator takes the base as an input. */
function usesBase(s: SliceSpec): boolean {
  return s.base !== undefined && s.operator.base !== 'none';
}

/** The `models:` form: the tensors of the base (or first model), each from every input under the same name. */
export async function modelsDrafts(recipe: Recipe, open: Open, warnings: string[]): Promise<Draft[]> {
  const slice = recipe.slices[0]!;
  const inputs = await sliceInputs(recipe, slice, open);
  const reference = inputs[0]!.ckpt;
  const layers = layerCount(reference.config, reference.tensors.keys());
  const names = [...reference.tensors.keys()];
  // an output embedding only some inputs have (tied weights elsewhere) is still written
  for (const i of inputs.slice(1)) {
    for (const n of i.ckpt.tensors.keys()) if (tiedTo(n).length > 0 && !names.includes(n)) names.push(n);
  }
  for (const i of inputs.slice(1)) {
    const extra = [...i.ckpt.tensors.keys()].filter((n) => !reference.tensors.has(n) && tiedTo(n).length === 0);
    if (extra.length > 0) warnings.push(`${i.where}: ${extra.length} tensor(s) not in ${inputs[0]!.where} are left out (e.g. ${extra[0]})`);
  }
  return names.map((name) => ({
    name,
    slice,
    t: gradientPosition(layerIndex(name), layers),
    inputs: inputs.map((i) => ({ ...i, name })),
  }));
}

/** The `slices:` form: layer ranges stacked and renumbered. */
export async function slicesDrafts(recipe: Recipe, open: Open): Promise<Draft[]> {
  const pre: Draft[] = [],
    layers: Draft[] = [],
    post: Draft[] = [];
  let outLayer = 0;
  for (const [si, slice] of recipe.slices.entries()) {
    const inputs = await sliceInputs(recipe, slice, open);
    const ref = slice.sources[0]!;
    const refCkpt = await open(ref.model);
    const len = sliceLength(slice);
    const starts = inputs.map((i) => i.start);
    const names = [...refCkpt.tensors.keys()];
    for (let j = 0; j < len; j++) {
      for (const name of names) {
        if (layerIndex(name) !== ref.layerRange![0] + j) continue;
        layers.push({
          name: withLayer(name, outLayer + j),
          slice,
          t: gradientPosition(j, len),
          inputs: inputs.map((i, k) => ({ ...i, name: withLayer(name, starts[k]! + j) })),
        });
      }
    }
    outLayer += len;
    const outside = names.filter((n) => layerIndex(n) === undefined);
    if (si === 0) for (const n of outside.filter(isPreLayer)) pre.push({ name: n, slice, t: 0, inputs: inputs.map((i) => ({ ...i, name: n })) });
    if (si === recipe.slices.length - 1)
      for (const n of outside.filter((x) => !isPreLayer(x))) post.push({ name: n, slice, t: 0, inputs: inputs.map((i) => ({ ...i, name: n })) });
  }
  return [...pre, ...layers, ...post];
}

/** The inputs of a slice in kernel order: the base first when its operator takes one, then the sources. */
async function sliceInputs(recipe: Recipe, slice: SliceSpec, open: Open): Promise<(Omit<DraftInput, 'name'> & { start: number })[]> {
  const base = slice.base;
  const out: (Omit<DraftInput, 'name'> & { start: number })[] = [];
  const firstStart = slice.sources[0]!.layerRange?.[0] ?? 0;
  if (usesBase(slice)) {
    const listed = slice.sources.find((s) => s.model.path === base!.path);
    out.push({
      ckpt: await open(base!),
      role: 'base',
      model: -1,
      where: base!.where,
      levels: [listed?.parameters, slice.parameters, recipe.parameters],
      start: listed?.layerRange?.[0] ?? firstStart,
    });
  }
  let model = 0;
  for (const s of slice.sources) {
    if (usesBase(slice) && s.model.path === base!.path) continue;
    out.push({
      ckpt: await open(s.model),
      role: 'model',
      model: model++,
      where: s.where,
      levels: [s.parameters, slice.parameters, recipe.parameters],
      start: s.layerRange?.[0] ?? 0,
    });
  }
  return out;
}

/** The tensor of an input by name, or the embedding it is tied to. */
export function find(ckpt: Checkpoint, name: string): TensorLocation | undefined {
  const t = ckpt.tensors.get(name);
  if (t) return t;
  for (const alt of tiedTo(name)) {
    const a = ckpt.tensors.get(alt);
    if (a) return a;
  }
  return undefined;
}

/** Embedding rows of every model (for the vocabulary: ids past them have no row). */
export function embeddingRows(drafts: Draft[]): Map<string, number> {
  const rows = new Map<string, number>();
  for (const d of drafts) {
    if (!isPreLayer(d.name)) continue;
    for (const i of d.inputs) {
      const t = find(i.ckpt, i.name);
      if (t?.shape.length === 2) rows.set(i.ckpt.dir, t.shape[0]!);
    }
  }
  return rows;
}

export function embeddingOf(drafts: Draft[], dir: string, name: string): TensorLocation | undefined {
  for (const d of drafts) for (const i of d.inputs) if (i.ckpt.dir === dir && d.name === name) return find(i.ckpt, i.name);
  for (const d of drafts)
    for (const i of d.inputs)
      if (i.ckpt.dir === dir) {
        const t = find(i.ckpt, name);
        if (t) return t;
      }
  return undefined;
}
