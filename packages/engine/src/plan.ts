// recipe -> plan: for every output tensor its operator, resolved parameters, inputs (file, byte
// offset, dtype), output position, and slices sized by the memory budget. Only headers are read.
import { type Checkpoint, type OutputLayout, openCheckpoint, planOutput } from '@tessera/checkpoint';
import { type ParamMap, type Recipe, type SliceSpec, lookup } from '@tessera/recipe';
import {
  type FloatDtype, type InputRounding, type Operator, type ParamValue, type ProgramInput, type SliceRange, type TensorContext,
  isFloatDtype, itemSize, planSlices,
} from '@tessera/tensor';
import { gradientPosition, layerCount, layerIndex } from './architecture.js';
import { MergeInputError } from './errors.js';

export interface PlanOptions {
  /** memory budget per worker thread, bytes (default 512 MiB) */
  memoryBytes?: number;
  /** size of one input's slice in bytes (overrides the budget) */
  sliceBytes?: number;
  shardBytes?: number;
  /** overrides the recipe's seed */
  seed?: number;
}

export const DEFAULT_MEMORY_BYTES = 512 * 2 ** 20;

export interface PlannedInput {
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
}

export interface JobPlan {
  recipe: Recipe;
  tensors: TensorPlan[];
  layout: OutputLayout;
  /** config.json of the output (before the dtype update), from the base or first model */
  config: Record<string, unknown> | undefined;
  /** torch_dtype written to config.json */
  torchDtype: string | undefined;
  /** folder whose tokenizer files are copied */
  tokenizerDir: string;
  /** every model folder read, for the model card */
  models: string[];
  inputBytes: number;
  warnings: string[];
}

interface Role {
  ckpt: Checkpoint;
  role: 'base' | 'model';
  modelIndex: number;
  where: string;
  levels: (ParamMap | undefined)[];
}

/** Plans a single-stage recipe. */
export async function planRecipe(recipe: Recipe, opts: PlanOptions = {}): Promise<JobPlan> {
  if (recipe.form !== 'models' || recipe.slices.length !== 1) {
    throw new MergeInputError(`${recipe.file}: slices recipes are not supported by this planner`);
  }
  const slice = recipe.slices[0]!;
  const cache = new Map<string, Promise<Checkpoint>>();
  const open = (path: string) => {
    let c = cache.get(path);
    if (!c) { c = openCheckpoint(path); cache.set(path, c); }
    return c;
  };
  const roles = await inputRoles(recipe, slice, open);
  const reference = roles[0]!.ckpt;
  const config = reference.config;
  const layers = layerCount(config, reference.tensors.keys());
  const warnings: string[] = [];
  for (const r of roles.slice(1)) {
    const extra = [...r.ckpt.tensors.keys()].filter((n) => !reference.tensors.has(n));
    if (extra.length > 0) warnings.push(`${r.where}: ${extra.length} tensor(s) not in ${roles[0]!.where} are left out (e.g. ${extra[0]})`);
  }

  const tensors: Omit<TensorPlan, 'outFile' | 'outOffset'>[] = [];
  for (const [name, ref] of reference.tensors) {
    const inputs = roles.map((r) => {
      const t = r.ckpt.tensors.get(name);
      if (!t) throw new MergeInputError(`missing in ${r.where} (${r.ckpt.dir})`, name);
      if (t.shape.join() !== ref.shape.join()) {
        throw new MergeInputError(`shape [${t.shape.join(', ')}] in ${r.where} (${r.ckpt.dir}) differs from [${ref.shape.join(', ')}] in ${roles[0]!.where}`, name);
      }
      if (!isFloatDtype(t.dtype)) throw new MergeInputError(`dtype ${t.dtype} in ${r.where} cannot be merged (floating-point tensors only)`, name);
      return { uri: t.file, offset: t.offset, dtype: t.dtype };
    });
    const t = gradientPosition(layerIndex(name), layers);
    const context = tensorContext(recipe, slice, roles, name, ref.shape, ref.numel, t, opts.seed ?? recipe.seed);
    const outDtype = recipe.outDtype ?? recipe.dtype ?? inputs[0]!.dtype;
    tensors.push({
      index: tensors.length, name, shape: ref.shape, numel: ref.numel, operator: recipe.operator, context,
      inputs, rounding: recipe.dtype, outDtype,
      inputBytes: inputs.reduce((s, i) => s + ref.numel * itemSize(i.dtype), 0),
    });
  }
  return finishPlan(recipe, tensors, opts, {
    config, tokenizerDir: tokenizerDir(recipe, roles), warnings,
    models: [...new Set(roles.map((r) => r.ckpt.dir))],
  });
}

/** Adds slices and the output layout to planned tensors. */
export function finishPlan(recipe: Recipe, tensors: Omit<TensorPlan, 'outFile' | 'outOffset'>[], opts: PlanOptions,
  meta: Pick<JobPlan, 'config' | 'tokenizerDir' | 'warnings' | 'models'>): JobPlan {
  const layout = planOutput(tensors.map((t) => ({ name: t.name, dtype: t.outDtype, shape: t.shape })), opts.shardBytes);
  const where = new Map(layout.files.flatMap((f) => f.tensors.map((t) => [t.name, { file: f.name, offset: t.offset }] as const)));
  const planned = tensors.map((t) => {
    const rowLen = t.shape.length > 1 ? t.shape[t.shape.length - 1]! : 1;
    const slices = planSlices(t.numel, maxSliceElems(t, opts), rowLen, t.operator.slicing(t.context.params));
    const w = where.get(t.name)!;
    return { ...t, context: { ...t.context, slices }, outFile: w.file, outOffset: w.offset };
  });
  const outDtypes = new Set(planned.map((t) => t.outDtype));
  const torchDtype = recipe.outDtype ?? recipe.dtype ?? (outDtypes.size === 1 ? [...outDtypes][0] : undefined);
  return {
    recipe, tensors: planned, layout, ...meta,
    torchDtype: torchDtype ? torchNameOf(torchDtype) : (meta.config?.torch_dtype as string | undefined),
    inputBytes: planned.reduce((s, t) => s + t.inputBytes, 0),
  };
}

function torchNameOf(d: FloatDtype): string {
  return d === 'BF16' ? 'bfloat16' : d === 'F16' ? 'float16' : d === 'F32' ? 'float32' : 'float64';
}

/** Elements per slice: from --slice-mb (one input's slice), else from the memory budget. */
function maxSliceElems(t: Omit<TensorPlan, 'outFile' | 'outOffset'>, opts: PlanOptions): number {
  const widest = Math.max(...t.inputs.map((i) => itemSize(i.dtype)));
  if (opts.sliceBytes !== undefined) return Math.floor(opts.sliceBytes / widest);
  const converted = t.inputs.some((i) => i.dtype !== t.inputs[0]!.dtype || i.dtype === 'F16' || i.dtype === 'F64') || (t.rounding !== undefined && t.rounding !== t.inputs[0]!.dtype);
  const perElem = t.inputs.reduce((s, i) => s + itemSize(i.dtype) + (converted ? 4 : 0), 0) + itemSize(t.outDtype);
  return Math.floor((opts.memoryBytes ?? DEFAULT_MEMORY_BYTES) / perElem);
}

/** The kernel inputs of a `models:` slice: the base first when the operator uses one, then the models in recipe order. */
async function inputRoles(recipe: Recipe, slice: SliceSpec, open: (p: string) => Promise<Checkpoint>): Promise<Role[]> {
  const base = slice.base;
  const usesBase = base !== undefined && recipe.operator.base !== 'none';
  const roles: Role[] = [];
  if (usesBase) {
    const listed = slice.sources.find((s) => s.model.path === base.path);
    roles.push({ ckpt: await open(base.path), role: 'base', modelIndex: -1, where: base.where, levels: [listed?.parameters, slice.parameters, recipe.parameters] });
  }
  let modelIndex = 0;
  for (const s of slice.sources) {
    if (usesBase && s.model.path === base.path) continue;
    roles.push({ ckpt: await open(s.model.path), role: 'model', modelIndex: modelIndex++, where: s.where, levels: [s.parameters, slice.parameters, recipe.parameters] });
  }
  return roles;
}

function tensorContext(recipe: Recipe, slice: SliceSpec, roles: Role[], name: string, shape: number[], numel: number, t: number, seed: number): TensorContext {
  const op = recipe.operator;
  const params: Record<string, ParamValue> = {};
  for (const p of op.params.filter((q) => q.scope === 'global')) {
    const v = lookup([slice.parameters, recipe.parameters], p.name, name, t) ?? p.default;
    if (v === undefined) throw new MergeInputError(`${op.name} needs ${p.name} (no value in the recipe applies to this tensor)`, name);
    params[p.name] = v;
  }
  const inputs: ProgramInput[] = roles.map((r) => {
    const mp: Record<string, ParamValue> = {};
    const needed = r.role === 'model' || op.base === 'optional';
    for (const p of op.params.filter((q) => q.scope === 'model')) {
      const v = lookup(r.levels, p.name, name, t) ?? p.default;
      if (v === undefined) {
        if (needed) throw new MergeInputError(`${op.name} needs ${p.name} for ${r.where} (no value in the recipe applies to this tensor)`, name);
        continue;
      }
      mp[p.name] = v;
    }
    return { role: r.role, model: r.modelIndex, params: mp };
  });
  return { name, shape, numel, inputs, params, seed, slices: [] as SliceRange[] };
}

function tokenizerDir(recipe: Recipe, roles: Role[]): string {
  const src = recipe.tokenizer.source;
  if (src?.kind === 'model') return src.model.path;
  if (src?.kind === 'union') throw new MergeInputError('tokenizer_source: union is not supported for this recipe');
  return recipe.base?.path ?? roles[0]!.ckpt.dir;
}

