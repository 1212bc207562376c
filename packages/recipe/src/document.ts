import { dirname, resolve } from 'node:path';
import { type WideDtype, OPERATORS, dtypeFromTorchName, findOperator } from '@tessera/tensor';
import type { Document } from 'yaml';
import type { z } from 'zod';
import { RecipeError, formatPath } from './errors.js';
import { resolveModel } from './models.js';
import { FP8_OUT, KNOWN_KEYS, RecipeSchema } from './schema.js';
import { closest } from './suggest.js';
import type { ModelSpec, Recipe, SliceSpec, SourceSpec, TokenizerSource } from './types.js';
import type { ParamMap } from './values.js';
import { Checker, type Path } from './checker.js';
import type { ParseOptions } from './parse.js';
import { aimSpec, chatTemplate, checkOperatorInputs, tokenEmbeddings } from './semantics.js';

function zodError(file: string, error: z.ZodError): RecipeError {
  const issue = error.issues[0]!;
  const path = formatPath(issue.path as Path);
  let msg = issue.message;
  if (issue.code === 'invalid_type')
    msg =
      issue.input === undefined ? 'required' : `expected ${issue.expected === 'tuple' ? 'a list' : `a ${issue.expected}`}, got ${JSON.stringify(issue.input)}`;
  else if (issue.code === 'too_small') msg = 'must not be empty';
  return new RecipeError(file, path, msg);
}

function dtypeOf(file: string, path: string, name: string | undefined): WideDtype | undefined {
  if (name === undefined) return undefined;
  const d = dtypeFromTorchName(name);
  if (!d) throw new RecipeError(file, path, `unknown dtype ${name}`);
  return d;
}

export function parseDocument(doc: Document.Parsed, file: string, opts: ParseOptions, names: Set<string>): Recipe {
  const raw = doc.toJS() as unknown;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new RecipeError(file, '', 'a recipe must be a mapping of keys (merge_method, models, ...)');
  const parsed = RecipeSchema.safeParse(raw);
  if (!parsed.success) throw zodError(file, parsed.error);
  const r = parsed.data;
  const operator = findOperator(r.merge_method);
  if (!operator) {
    const s = closest(
      r.merge_method,
      OPERATORS.map((o) => o.name),
    );
    throw new RecipeError(
      file,
      'merge_method',
      `unknown method ${r.merge_method}${s ? `, did you mean ${s}?` : ` (known: ${OPERATORS.map((o) => o.name).join(', ')})`}`,
    );
  }
  const checker = new Checker(file, opts.strict ?? false, operator);
  const check = checker;
  const recipeDir = dirname(resolve(file));
  const cwd = opts.cwd ?? process.cwd();
  const model = (ref: string, where: string): ModelSpec => {
    if (names.has(ref)) {
      if (ref === r.name) throw new RecipeError(file, where, `${ref} is this document's own output`);
      return { ref, path: `stage:${ref}`, stage: ref, where };
    }
    return resolveModel(file, ref, where, recipeDir, cwd);
  };

  check.keys(r as Record<string, unknown>, KNOWN_KEYS.recipe, []);
  const topParams = check.params(r.parameters, ['parameters'], 'global');
  check.keys(r.tokenizer, KNOWN_KEYS.tokenizer, ['tokenizer']);
  if (r.tokenizer && r.tokenizer_source !== undefined) throw new RecipeError(file, 'tokenizer_source', 'give either tokenizer_source or tokenizer, not both');
  check.keys(r.aim, KNOWN_KEYS.aim, ['aim']);

  // `modules: {default: ...}` is the body of an ordinary language model
  let body: { models?: typeof r.models; slices?: typeof r.slices; base_model?: string | undefined } = r;
  let bodyPath: Path = [];
  let moduleParams: ParamMap | undefined;
  if (r.modules) {
    const names = Object.keys(r.modules);
    if (r.models || r.slices) throw new RecipeError(file, 'modules', 'give either modules or models/slices, not both');
    if (names.length !== 1 || names[0] !== 'default')
      throw new RecipeError(file, 'modules', `only the "default" module of a language model is supported, got ${names.join(', ')}`);
    const m = r.modules.default!;
    check.keys(m, KNOWN_KEYS.module, ['modules', 'default']);
    moduleParams = check.params(m.parameters, ['modules', 'default', 'parameters'], 'global');
    body = m;
    bodyPath = ['modules', 'default'];
  }
  if (body.models && body.slices) throw new RecipeError(file, formatPath([...bodyPath, 'slices']), 'give either models or slices, not both');
  if (!body.models && !body.slices) throw new RecipeError(file, formatPath(bodyPath) || 'models', 'a recipe needs models (or slices)');

  const baseRef = body.base_model ?? r.base_model;
  const basePath = body.base_model ? [...bodyPath, 'base_model'] : ['base_model'];
  const base = baseRef !== undefined ? model(baseRef, formatPath(basePath)) : undefined;
  const globalParams = mergeParams(topParams, moduleParams);

  let slices: SliceSpec[];
  if (body.models) {
    const sources: SourceSpec[] = body.models.map((m, i) => {
      const at: Path = [...bodyPath, 'models', i];
      check.keys(m, KNOWN_KEYS.model, at);
      const parameters = check.params(m.parameters, [...at, 'parameters'], 'model');
      return { model: model(m.model, formatPath([...at, 'model'])), layerRange: undefined, parameters, where: formatPath(at) };
    });
    slices = [{ sources, parameters: undefined, base, operator, where: formatPath([...bodyPath, 'models']) }];
  } else {
    slices = body.slices!.map((s, i) => {
      const at: Path = [...bodyPath, 'slices', i];
      const sliceOp = s.merge_method === undefined ? operator : findOperator(s.merge_method);
      if (!sliceOp) throw new RecipeError(file, formatPath([...at, 'merge_method']), `unknown method ${s.merge_method}`);
      const check = sliceOp === operator ? checker : new Checker(file, opts.strict ?? false, sliceOp, checker.warnings);
      check.keys(s, KNOWN_KEYS.slice, at);
      const sliceParams = check.params(s.parameters, [...at, 'parameters'], 'global');
      const sliceBase = s.base_model !== undefined ? model(s.base_model, formatPath([...at, 'base_model'])) : base;
      const sources = s.sources.map((src, j) => {
        const sat: Path = [...at, 'sources', j];
        check.keys(src, KNOWN_KEYS.source, sat);
        const parameters = check.params(src.parameters, [...sat, 'parameters'], 'model');
        const [a, b] = src.layer_range;
        if (a < 0 || b <= a) throw new RecipeError(file, formatPath([...sat, 'layer_range']), `must be [start, end) with 0 <= start < end, got [${a}, ${b}]`);
        return { model: model(src.model, formatPath([...sat, 'model'])), layerRange: [a, b] as [number, number], parameters, where: formatPath(sat) };
      });
      const lens = new Set(sources.map((x) => x.layerRange[1] - x.layerRange[0]));
      if (lens.size > 1)
        throw new RecipeError(file, formatPath([...at, 'sources']), `every source of a slice needs the same number of layers, got ${[...lens].join(', ')}`);
      return { sources, parameters: sliceParams, base: sliceBase, operator: sliceOp, where: formatPath(at) };
    });
  }
  for (const s of slices) checkOperatorInputs(file, s.operator, s, globalParams);

  return {
    file,
    text: doc.toString(),
    name: r.name,
    operator,
    base,
    form: body.models ? 'models' : 'slices',
    slices,
    parameters: globalParams,
    dtype: dtypeOf(file, 'dtype', r.dtype),
    outDtype: r.out_dtype?.toLowerCase() === FP8_OUT ? 'F8_E4M3' : dtypeOf(file, 'out_dtype', r.out_dtype),
    tokenizer: {
      // as mergekit: a tokenizer block without a source builds the union vocabulary
      source: tokenizerSource(r.tokenizer ? (r.tokenizer.source ?? 'union') : r.tokenizer_source, r.tokenizer ? 'tokenizer.source' : 'tokenizer_source', model),
      padToMultipleOf: r.tokenizer?.pad_to_multiple_of,
      tokens: tokenEmbeddings(file, r.tokenizer?.tokens, check, model),
    },
    chatTemplate: chatTemplate(file, r.chat_template),
    seed: r.seed ?? 0,
    aim: aimSpec(file, r.aim, base, recipeDir, cwd),
    warnings: check.warnings,
  };
}

function mergeParams(global: ParamMap | undefined, module: ParamMap | undefined): ParamMap | undefined {
  if (!global && !module) return undefined;
  return { ...(global ?? {}), ...(module ?? {}) };
}

function tokenizerSource(source: string | undefined, where: string, model: (ref: string, where: string) => ModelSpec): TokenizerSource | undefined {
  if (source === undefined) return undefined;
  if (source === 'base') return { kind: 'base' };
  if (source === 'union') return { kind: 'union' };
  return { kind: 'model', model: model(source, where) };
}
