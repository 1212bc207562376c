// One draft located in its inputs: every input tensor found (or its tied embedding), the
// output shape settled (embeddings of other sizes as the operator declares), and the operator's
// parameters resolved for this tensor (scalars, gradients, filters).
import type { TensorLocation } from '@tessera/checkpoint';
import { type Recipe, lookup } from '@tessera/recipe';
import { type ParamValue, type ProgramInput, type TensorContext, isFloatDtype } from '@tessera/tensor';
import { isEmbedding } from './architecture.js';
import { MergeInputError } from './errors.js';
import { type Draft, type DraftInput, find } from './plan-forms.js';
import type { VocabPlan } from './vocab.js';

interface Located {
  inputs: { draft: DraftInput; loc: TensorLocation }[];
  shape: number[];
  /** the embedding rows follow the output vocabulary (gather first) */
  reindex: boolean;
}

/** Locates every input tensor and settles the output shape; undefined when nothing is left to merge. */
export function locate(d: Draft, skipMismatched: boolean, warnings: string[], vocab: VocabPlan | undefined): Located | undefined {
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

export function tensorContext(recipe: Recipe, d: Draft, inputs: DraftInput[], shape: number[], numel: number, seed: number): TensorContext {
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
