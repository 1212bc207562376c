// recipe -> plan: for every output tensor its operator, resolved parameters, inputs (file, byte
// offset, dtype), output position, and slices sized by the memory budget. Only headers (and
// tokenizer vocabularies) are read. `models:` is one slice spanning every layer; `slices:`
// stacks layer ranges, renumbered, with the embeddings from the first slice and the final norm
// and lm_head from the last.
import { type Checkpoint, type OutputLayout, type TensorLocation, openCheckpoint, planOutput } from '@tessera/checkpoint';
import { type ModelSpec, type ParamMap, type Recipe, type SliceSpec, lookup } from '@tessera/recipe';
import {
  type FloatDtype,
  type InputRounding,
  type Operator,
  type ParamValue,
  type ProgramInput,
  type TensorContext,
  isFloatDtype,
  itemSize,
  planSlices,
  torchName,
} from '@tessera/tensor';
import { gradientPosition, isEmbedding, isPreLayer, layerCount, layerIndex, tiedTo, withLayer } from './architecture.js';
import { MergeInputError } from './errors.js';
import type { AimParams, GatherTask } from '@tessera/protocol/task';
import { type RowSource, type VocabPlan, planVocabulary } from './vocab.js';

export interface PlanOptions {
  /** memory budget per worker thread, bytes (default 512 MiB) */
  memoryBytes?: number;
  /** size of one input's slice in bytes (overrides the budget) */
  sliceBytes?: number;
  shardBytes?: number;
  /** overrides the recipe's seed */
  seed?: number;
  /** task-vector operators leave out a model whose tensor has another shape (with a warning) */
  skipMismatched?: boolean;
  /** folder for re-indexed embeddings (created by the run when the plan needs it) */
  workDir?: string;
  /** where the outputs of earlier documents of a multi-document recipe are */
  stages?: ReadonlyMap<string, string>;
}

export const DEFAULT_MEMORY_BYTES = 512 * 2 ** 20;

interface PlannedInput {
  uri: string;
  /** byte offset of the tensor's first element */
  offset: number;
  dtype: FloatDtype;
}

export interface TensorPlan {
  index: number;
  name: string;
  shape: number[];
  numel: number;
  operator: Operator;
  context: TensorContext;
  inputs: PlannedInput[];
  rounding: InputRounding;
  outDtype: FloatDtype;
  outFile: string;
  outOffset: number;
  inputBytes: number;
  /** AIM applied by the merge tasks (see aim.ts) */
  aim?: AimParams & { base: { uri: string; offset: number; dtype: FloatDtype } };
}

export interface JobPlan {
  recipe: Recipe;
  tensors: TensorPlan[];
  layout: OutputLayout;
  /** config.json of the output, before `configOverrides` */
  config: Record<string, unknown> | undefined;
  configOverrides: Record<string, unknown>;
  /** the tokenizer files to write: copied from `dir`, with `extra` tokens added */
  tokenizer: { dir: string; extra: { token: string; id: number; special: boolean }[] };
  /** every model folder read, for the model card */
  models: string[];
  inputBytes: number;
  warnings: string[];
  /** re-indexed embedding matrices written before the merge (vocabulary handling) */
  work: { dir: string; layout: OutputLayout; gathers: GatherTask[] } | undefined;
}

/** One input of an output tensor, before its tensor is located. */
interface DraftInput {
  ckpt: Checkpoint;
  role: 'base' | 'model';
  /** index among the slice's non-base sources (keys random masks) */
  model: number;
  where: string;
  /** the input's own tensor name (its layer index) */
  name: string;
  levels: (ParamMap | undefined)[];
}

interface Draft {
  name: string;
  slice: SliceSpec;
  t: number;
  inputs: DraftInput[];
}

type Open = (m: ModelSpec) => Promise<Checkpoint>;

export async function planRecipe(recipe: Recipe, opts: PlanOptions = {}): Promise<JobPlan> {
  const cache = new Map<string, Promise<Checkpoint>>();
  const open: Open = (m) => {
    const path = m.stage !== undefined ? opts.stages?.get(m.stage) : m.path;
    if (path === undefined) throw new MergeInputError(`${m.where}: the output of ${m.stage} is not available`);
    let c = cache.get(path);
    if (!c) {
      c = openCheckpoint(path);
      cache.set(path, c);
    }
    return c;
  };
  const warnings: string[] = [];
  const drafts = recipe.form === 'models' ? await modelsDrafts(recipe, open, warnings) : await slicesDrafts(recipe, open);
  const first = drafts[0]?.inputs[0]?.ckpt;
  if (!first) throw new MergeInputError(`${recipe.file}: nothing to merge`);
  const models = [...new Set(drafts.flatMap((d) => d.inputs.map((i) => i.ckpt.dir)))];
  const baseCkpt = recipe.base ? await open(recipe.base) : undefined;
  const dirOf = (m: ModelSpec) => (m.stage !== undefined ? (opts.stages?.get(m.stage) ?? m.path) : m.path);
  const vocab = await planVocabulary(recipe, baseCkpt?.dir, models, embeddingRows(drafts), dirOf, warnings);

  const tensors: Omit<TensorPlan, 'outFile' | 'outOffset'>[] = [];
  const gathers: { tensor: number; input: number; sources: RowSource[]; src: { dir: string; loc: TensorLocation }[]; dtype: FloatDtype; cols: number }[] = [];
  for (const d of drafts) {
    const located = locate(d, opts.skipMismatched ?? false, warnings, vocab);
    if (!located) continue;
    const { inputs, shape, reindex } = located;
    const op = d.slice.operator;
    const numel = shape.reduce((a, b) => a * b, 1);
    const context = tensorContext(
      recipe,
      d,
      inputs.map((i) => i.draft),
      shape,
      numel,
      opts.seed ?? recipe.seed,
    );
    const outDtype = recipe.outDtype ?? recipe.dtype ?? (inputs[0]!.loc.dtype as FloatDtype);
    const index = tensors.length;
    if (reindex) {
      inputs.forEach((i, k) =>
        gathers.push({
          tensor: index,
          input: k,
          sources: vocab!.rowsFor(i.draft.ckpt.dir),
          src: models.map((dir) => ({ dir, loc: embeddingOf(drafts, dir, d.name) })).filter((x) => x.loc !== undefined) as {
            dir: string;
            loc: TensorLocation;
          }[],
          dtype: i.loc.dtype as FloatDtype,
          cols: shape[1]!,
        }),
      );
    }
    tensors.push({
      index,
      name: d.name,
      shape,
      numel,
      operator: op,
      context,
      inputs: inputs.map((i) => ({ uri: i.loc.file, offset: i.loc.offset, dtype: i.loc.dtype as FloatDtype })),
      rounding: recipe.dtype,
      outDtype,
      inputBytes: inputs.reduce((s, i) => s + numel * itemSize(i.loc.dtype as FloatDtype), 0),
    });
  }
  const work = gathers.length > 0 ? planGathers(gathers, tensors, opts) : undefined;

  const config = baseCkpt?.config ?? first.config;
  const overrides: Record<string, unknown> = {};
  if (recipe.form === 'slices') overrides.num_hidden_layers = recipe.slices.reduce((s, sl) => s + sliceLength(sl), 0);
  if (vocab) overrides.vocab_size = vocab.rows;
  if (config?.tie_word_embeddings === true && tensors.some((t) => tiedTo(t.name).length > 0)) overrides.tie_word_embeddings = false;
  return finishPlan(recipe, tensors, opts, {
    config,
    configOverrides: overrides,
    warnings,
    models,
    work,
    tokenizer: vocab?.tokenizer ?? { dir: tokenizerDir(recipe, baseCkpt?.dir ?? first.dir), extra: [] },
  });
}

/** Adds slices and the output layout to planned tensors. */
export function finishPlan(
  recipe: Recipe,
  tensors: Omit<TensorPlan, 'outFile' | 'outOffset'>[],
  opts: PlanOptions,
  meta: Pick<JobPlan, 'config' | 'configOverrides' | 'tokenizer' | 'warnings' | 'models' | 'work'>,
): JobPlan {
  const layout = planOutput(
    tensors.map((t) => ({ name: t.name, dtype: t.outDtype, shape: t.shape })),
    opts.shardBytes,
  );
  const where = new Map(layout.files.flatMap((f) => f.tensors.map((t) => [t.name, { file: f.name, offset: t.offset }] as const)));
  const planned = tensors.map((t) => {
    // a 1-D tensor is one row (row-local operators see it whole)
    const rowLen = t.shape.length > 1 ? t.shape[t.shape.length - 1]! : t.numel;
    const slices = planSlices(t.numel, maxSliceElems(t, opts), rowLen, t.operator.slicing(t.context.params));
    const w = where.get(t.name)!;
    return { ...t, context: { ...t.context, slices }, outFile: w.file, outOffset: w.offset };
  });
  const outDtypes = new Set(planned.map((t) => t.outDtype));
  const torchDtype = recipe.outDtype ?? recipe.dtype ?? (outDtypes.size === 1 ? [...outDtypes][0] : undefined);
  return {
    recipe,
    tensors: planned,
    layout,
    ...meta,
    configOverrides: { ...meta.configOverrides, ...(torchDtype ? { torch_dtype: torchName(torchDtype) } : {}) },
    inputBytes: planned.reduce((s, t) => s + t.inputBytes, 0),
  };
}

/** Elements per slice: from --slice-mb (one input's slice), else from the memory budget. */
function maxSliceElems(t: Omit<TensorPlan, 'outFile' | 'outOffset'>, opts: PlanOptions): number {
  const widest = Math.max(...t.inputs.map((i) => itemSize(i.dtype)));
  if (opts.sliceBytes !== undefined) return Math.floor(opts.sliceBytes / widest);
  const converted =
    t.inputs.some((i) => i.dtype !== t.inputs[0]!.dtype || i.dtype === 'F16' || i.dtype === 'F64') ||
    (t.rounding !== undefined && t.rounding !== t.inputs[0]!.dtype);
  const perElem = t.inputs.reduce((s, i) => s + itemSize(i.dtype) + (converted ? 4 : 0), 0) + itemSize(t.outDtype);
  return Math.floor((opts.memoryBytes ?? DEFAULT_MEMORY_BYTES) / perElem);
}

function sliceLength(s: SliceSpec): number {
  const r = s.sources[0]!.layerRange;
  return r ? r[1] - r[0] : 0;
}

/** Whether the slice's operator takes the base as an input. */
function usesBase(s: SliceSpec): boolean {
  return s.base !== undefined && s.operator.base !== 'none';
}

/** The `models:` form: the tensors of the base (or first model), each from every input under the same name. */
async function modelsDrafts(recipe: Recipe, open: Open, warnings: string[]): Promise<Draft[]> {
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
async function slicesDrafts(recipe: Recipe, open: Open): Promise<Draft[]> {
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
function find(ckpt: Checkpoint, name: string): TensorLocation | undefined {
  const t = ckpt.tensors.get(name);
  if (t) return t;
  for (const alt of tiedTo(name)) {
    const a = ckpt.tensors.get(alt);
    if (a) return a;
  }
  return undefined;
}

interface Located {
  inputs: { draft: DraftInput; loc: TensorLocation }[];
  shape: number[];
  /** the embedding rows follow the output vocabulary (gather first) */
  reindex: boolean;
}

/** Locates every input tensor and settles the output shape; undefined when nothing is left to merge. */
function locate(d: Draft, skipMismatched: boolean, warnings: string[], vocab: VocabPlan | undefined): Located | undefined {
  const op = d.slice.operator;
  const found = d.inputs.map((draft) => {
    const loc = find(draft.ckpt, draft.name);
    if (!loc) throw new MergeInputError(`missing in ${draft.where} (${draft.ckpt.dir})`, draft.name);
    if (!isFloatDtype(loc.dtype)) throw new MergeInputError(`dtype ${loc.dtype} in ${draft.where} cannot be merged (floating-point tensors only)`, draft.name);
    return { draft, loc };
  });
  const ref = found[0]!;
  const taskVector = op.base === 'required' && ref.draft.role === 'base';
  if (isEmbedding(d.name) && ref.loc.shape.length === 2) {
    const cols = ref.loc.shape[1]!;
    const bad = found.find((f) => f.loc.shape.length !== 2 || f.loc.shape[1] !== cols);
    if (bad)
      throw new MergeInputError(
        `shape [${bad.loc.shape.join(', ')}] in ${bad.draft.where} has another width than [${ref.loc.shape.join(', ')}] in ${ref.draft.where}`,
        d.name,
      );
    if (vocab) return { inputs: found, shape: [vocab.rows, cols], reindex: true };
    const rows = found.map((f) => f.loc.shape[0]!);
    if (rows.every((r) => r === rows[0])) return { inputs: found, shape: ref.loc.shape, reindex: false };
    // the operator's declaration says how (as mergekit's methods do)
    const policy = op.embeddings;
    if (policy === 'refuse')
      throw new MergeInputError(`the inputs have ${rows.join(', ')} rows and ${op.name} does not rectify embeddings; set tokenizer_source`, d.name);
    const outRows = policy === 'base-rows' ? rows[0]! : Math.min(...rows);
    const small = found.find((f) => f.loc.shape[0]! < outRows);
    if (small)
      throw new MergeInputError(
        `${small.draft.where} has ${small.loc.shape[0]} rows, fewer than the ${outRows} of ${ref.draft.where}; set tokenizer_source`,
        d.name,
      );
    warnings.push(`tensor ${d.name}: inputs have ${rows.join(', ')} rows; merging the first ${outRows} (set tokenizer_source to follow a vocabulary)`);
    return { inputs: found, shape: [outRows, cols], reindex: false };
  }
  const same = found.filter((f) => f.loc.shape.join() === ref.loc.shape.join());
  if (same.length !== found.length) {
    const bad = found.find((f) => f.loc.shape.join() !== ref.loc.shape.join())!;
    const msg = `shape [${bad.loc.shape.join(', ')}] in ${bad.draft.where} (${bad.draft.ckpt.dir}) differs from [${ref.loc.shape.join(', ')}] in ${ref.draft.where}`;
    if (!(skipMismatched && taskVector)) throw new MergeInputError(msg, d.name);
    warnings.push(`tensor ${d.name}: ${msg}; that model is left out of this tensor`);
    if (same.length < 2) return undefined;
  }
  return { inputs: same, shape: ref.loc.shape, reindex: false };
}

function tensorContext(recipe: Recipe, d: Draft, inputs: DraftInput[], shape: number[], numel: number, seed: number): TensorContext {
  const op = d.slice.operator;
  const params: Record<string, ParamValue> = {};
  for (const p of op.params.filter((q) => q.scope === 'global')) {
    const v = lookup([d.slice.parameters, recipe.parameters], p.name, d.name, d.t) ?? p.default;
    if (v === undefined) throw new MergeInputError(`${op.name} needs ${p.name} (no value in the recipe applies to this tensor)`, d.name);
    params[p.name] = v;
  }
  const progInputs: ProgramInput[] = inputs.map((i) => {
    const mp: Record<string, ParamValue> = {};
    const needed = i.role === 'model' || op.weighsBase === true;
    for (const p of op.params.filter((q) => q.scope === 'model')) {
      // filters on per-model parameters match the input's own tensor name
      const v = lookup(i.levels, p.name, i.name, d.t) ?? p.default;
      if (v === undefined) {
        if (needed) throw new MergeInputError(`${op.name} needs ${p.name} for ${i.where} (no value in the recipe applies to this tensor)`, d.name);
        continue;
      }
      mp[p.name] = v;
    }
    return { role: i.role, model: i.model, params: mp };
  });
  return { name: d.name, shape, numel, inputs: progInputs, params, seed, slices: [] };
}

/** Embedding rows of every model (for the vocabulary: ids past them have no row). */
function embeddingRows(drafts: Draft[]): Map<string, number> {
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

function embeddingOf(drafts: Draft[], dir: string, name: string): TensorLocation | undefined {
  for (const d of drafts) for (const i of d.inputs) if (i.ckpt.dir === dir && d.name === name) return find(i.ckpt, i.name);
  for (const d of drafts)
    for (const i of d.inputs)
      if (i.ckpt.dir === dir) {
        const t = find(i.ckpt, name);
        if (t) return t;
      }
  return undefined;
}

const GATHER_BYTES = 32 << 20;

/** Work files for the re-indexed embeddings, gather tasks filling them, and the inputs pointed at them. */
function planGathers(
  gathers: { tensor: number; input: number; sources: RowSource[]; src: { dir: string; loc: TensorLocation }[]; dtype: FloatDtype; cols: number }[],
  tensors: Omit<TensorPlan, 'outFile' | 'outOffset'>[],
  opts: PlanOptions,
): JobPlan['work'] {
  if (!opts.workDir) throw new MergeInputError('vocabulary handling needs a work folder');
  const dir = opts.workDir;
  const layout = planOutput(
    gathers.map((g, i) => ({ name: `${i}`, dtype: g.dtype, shape: [tensors[g.tensor]!.shape[0]!, g.cols] })),
    Number.MAX_SAFE_INTEGER,
  );
  const file = layout.files[0]!;
  const tasks: GatherTask[] = [];
  gathers.forEach((g, i) => {
    const placed = file.tensors[i]!;
    const rowBytes = g.cols * itemSize(g.dtype);
    tensors[g.tensor]!.inputs[g.input] = { uri: `${dir}/${file.name}`, offset: placed.offset, dtype: g.dtype };
    const index = new Map(g.src.map((s, k) => [s.dir, k]));
    const sources = g.src.map((s) => ({ uri: s.loc.file, offset: s.loc.offset, dtype: s.loc.dtype as FloatDtype, rows: s.loc.shape[0]! }));
    // bounded in bytes, and in rows so that a task descriptor stays well under NATS's 1 MiB
    const per = Math.max(1, Math.min(8192, Math.floor(GATHER_BYTES / rowBytes)));
    for (let r0 = 0; r0 < g.sources.length; r0 += per) {
      const plan: number[] = [];
      for (const src of g.sources.slice(r0, r0 + per)) {
        if ('all' in src) plan.push(-1, index.get(src.all)!, 0);
        else {
          plan.push(src.length);
          for (const s of src) plan.push(index.get(s.dir)!, s.row);
        }
      }
      tasks.push({
        kind: 'gather',
        id: `g${i}/${r0}`,
        sources,
        cols: g.cols,
        rows: Math.min(per, g.sources.length - r0),
        plan,
        out: { uri: `${dir}/${file.name}`, offset: placed.offset + r0 * rowBytes, dtype: g.dtype },
      });
    }
  });
  return { dir, layout, gathers: tasks };
}

function tokenizerDir(recipe: Recipe, fallback: string): string {
  const src = recipe.tokenizer.source;
  return src?.kind === 'model' ? src.model.path : fallback;
}
