// recipe -> plan: for every output tensor its operator, resolved parameters, inputs (file, byte
// offset, dtype), output position, and slices sized by the memory budget. Only headers (and
// tokenizer vocabularies) are read. The recipe's form gives drafts (plan-forms.ts), each draft
// is located in its inputs (plan-tensor.ts), sliced (plan-slices.ts), and a changed vocabulary
// adds re-indexed embeddings (plan-gathers.ts).
import { type Checkpoint, type OutputLayout, type TensorLocation, openCheckpoint, planOutput, scaleTensorName, withBlockScales } from '@tessera/checkpoint';
import type { AimParams, GatherTask, TensorScale } from '@tessera/protocol/task';
import type { ModelSpec, Recipe } from '@tessera/recipe';
import { type FloatDtype, type InputRounding, type Operator, type TensorContext, itemSize, mergedDtype, torchName } from '@tessera/tensor';
import { tiedTo } from './architecture.js';
import { MergeInputError } from './errors.js';
import { type Open, embeddingOf, embeddingRows, modelsDrafts, sliceLength, slicesDrafts } from './plan-forms.js';
import { type Gather, planGathers } from './plan-gathers.js';
import { planTensorSlices } from './plan-slices.js';
import { locate, tensorContext } from './plan-tensor.js';
import { planVocabulary } from './vocab.js';

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
  /** the block scales of a scaled FP8 weight */
  scale?: TensorScale;
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
  /** a re-quantised FP8 weight: its block scales, written as `${name}_scale_inv` (float32) */
  outScale?: { block: [number, number]; shape: [number, number]; file?: string; offset?: number };
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

export async function planRecipe(recipe: Recipe, opts: PlanOptions = {}): Promise<JobPlan> {
  const cache = new Map<string, Promise<Checkpoint>>();
  const open: Open = (m) => {
    const path = m.stage !== undefined ? opts.stages?.get(m.stage) : m.path;
    if (path === undefined) throw new MergeInputError(`${m.where}: the output of ${m.stage} is not available`);
    let c = cache.get(path);
    if (!c) {
      c = openCheckpoint(path).then(withBlockScales);
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
  const gathers: Gather[] = [];
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
    const scaled = inputs.find((i) => i.loc.scale);
    const requantise = recipe.outDtype === 'F8_E4M3' && scaled !== undefined;
    const wide = recipe.outDtype === 'F8_E4M3' ? undefined : recipe.outDtype;
    const outDtype = requantise ? 'F8_E4M3' : (wide ?? recipe.dtype ?? mergedDtype(inputs[0]!.loc.dtype as FloatDtype));
    const index = tensors.length;
    if (reindex) {
      if (scaled) throw new MergeInputError(`${scaled.draft.where}: a block-scaled FP8 embedding cannot be re-indexed to another vocabulary`, d.name);
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
      inputs: inputs.map((i) => ({
        uri: i.loc.file,
        offset: i.loc.offset,
        dtype: i.loc.dtype as FloatDtype,
        ...(i.loc.scale
          ? { scale: { uri: i.loc.scale.file, offset: i.loc.scale.offset, cols: shape[1]!, scaleCols: i.loc.scale.shape[1], block: i.loc.scale.block } }
          : {}),
      })),
      rounding: recipe.dtype,
      outDtype,
      ...(requantise ? { outScale: { block: scaled.loc.scale!.block, shape: scaled.loc.scale!.shape } } : {}),
      inputBytes: inputs.reduce((s, i) => s + numel * itemSize(i.loc.dtype as FloatDtype), 0),
    });
  }
  const work = gathers.length > 0 ? planGathers(gathers, tensors, opts) : undefined;

  const config = baseCkpt?.config ?? first.config;
  const overrides: Record<string, unknown> = {};
  if (recipe.form === 'slices') overrides.num_hidden_layers = recipe.slices.reduce((s, sl) => s + sliceLength(sl), 0);
  if (vocab) overrides.vocab_size = vocab.rows;
  // scaled FP8 weights are written dequantised (no quantisation in the output), or re-quantised in blocks
  const requantised = tensors.find((t) => t.outScale);
  if (recipe.outDtype === 'F8_E4M3' && !requantised)
    throw new MergeInputError('out_dtype float8_e4m3fn re-quantises block-scaled FP8 weights, and no input weight is block-scaled FP8');
  if (requantised) {
    const q = (config?.quantization_config ?? {}) as Record<string, unknown>;
    overrides.quantization_config = { ...q, quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: requantised.outScale!.block };
  } else if (config?.quantization_config !== undefined) overrides.quantization_config = undefined;
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
    tensors.flatMap((t) => [
      { name: t.name, dtype: t.outDtype, shape: t.shape },
      ...(t.outScale ? [{ name: scaleTensorName(t.name), dtype: 'F32' as const, shape: t.outScale.shape }] : []),
    ]),
    opts.shardBytes,
  );
  const where = new Map(layout.files.flatMap((f) => f.tensors.map((t) => [t.name, { file: f.name, offset: t.offset }] as const)));
  const planned = tensors.map((t) => {
    const slices = planTensorSlices(t, opts);
    const w = where.get(t.name)!;
    const outScale = t.outScale && { ...t.outScale, ...where.get(scaleTensorName(t.name))! };
    return { ...t, context: { ...t.context, slices }, outFile: w.file, outOffset: w.offset, ...(outScale ? { outScale } : {}) };
  });
  // a re-quantised checkpoint names the dtype of its unquantised tensors (its FP8 weights are in quantization_config)
  const outDtypes = new Set(planned.filter((t) => !t.outScale).map((t) => t.outDtype));
  const named = recipe.outDtype === 'F8_E4M3' ? undefined : recipe.outDtype;
  const torchDtype = named ?? recipe.dtype ?? (outDtypes.size === 1 ? [...outDtypes][0] : undefined);
  return {
    recipe,
    tensors: planned,
    layout,
    ...meta,
    configOverrides: { ...meta.configOverrides, ...(torchDtype ? { torch_dtype: torchName(torchDtype) } : {}) },
    inputBytes: planned.reduce((s, t) => s + t.inputBytes, 0),
  };
}

function tokenizerDir(recipe: Recipe, fallback: string): string {
  const src = recipe.tokenizer.source;
  return src?.kind === 'model' ? src.model.path : fallback;
}
