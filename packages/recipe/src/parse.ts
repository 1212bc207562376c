// Recipe documents -> validated recipes. Structure errors are errors; keys mergekit would
// silently ignore are warnings with the path and a suggestion (errors under `strict`).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type FloatDtype, OPERATORS, type Operator, type ParamSpec, dtypeFromTorchName, findOperator } from '@tessera/tensor';
import { type Document, parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { RecipeError, formatPath } from './errors.js';
import { resolveModel } from './models.js';
import { KNOWN_KEYS, type ParamValueInput, type RecipeDocument, RecipeSchema, coerceBoolean, coerceNumber } from './schema.js';
import { closest } from './suggest.js';
import type { AimSpec, ModelSpec, Recipe, SliceSpec, SourceSpec, TokenEmbeddingSpec, TokenizerSource } from './types.js';
import { CHAT_TEMPLATES, type ChatTemplateSpec } from './chat-templates.js';
import type { ParamMap } from './values.js';

export interface ParseOptions {
  /** unknown or misplaced keys are errors instead of warnings */
  strict?: boolean;
  /** where relative model paths are also looked up (default: process.cwd()) */
  cwd?: string;
}

type Path = (string | number)[];

/** Reads a recipe file: one recipe per YAML document. */
export function loadRecipe(file: string, opts: ParseOptions = {}): Recipe[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RecipeError(file, '', `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseRecipes(text, file, opts);
}

export function parseRecipes(text: string, file: string, opts: ParseOptions = {}): Recipe[] {
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  if (!Array.isArray(docs)) throw new RecipeError(file, '', 'not a YAML document');
  const present = docs.filter((d) => d.contents !== null);
  for (const d of present) {
    const e = yamlError(file, d);
    if (e) throw e;
  }
  // names of intermediate merges: model references equal to one stand for its output
  const names = new Set<string>();
  for (const d of present) {
    const name = (d.toJS() as { name?: unknown } | null)?.name;
    if (typeof name === 'string') {
      if (names.has(name)) throw new RecipeError(file, 'name', `two documents are named ${name}`);
      names.add(name);
    }
  }
  const recipes = present.map((d) => parseDocument(d, file, opts, names));
  if (recipes.length === 0) throw new RecipeError(file, '', 'empty recipe');
  return recipes.length > 1 ? orderStages(file, recipes) : recipes;
}

/**
 * A multi-document recipe, in the order it runs: every named document after the ones it uses,
 * the one document without a name (the final merge) last. A cycle is an error.
 */
function orderStages(file: string, recipes: Recipe[]): Recipe[] {
  const finals = recipes.filter((r) => r.name === undefined);
  if (finals.length !== 1)
    throw new RecipeError(file, 'name', `a multi-document recipe needs exactly one document without a name (the final merge), got ${finals.length}`);
  const byName = new Map(recipes.flatMap((r) => (r.name !== undefined ? [[r.name, r] as const] : [])));
  const order: Recipe[] = [];
  const state = new Map<Recipe, 'visiting' | 'done'>();
  const visit = (r: Recipe, via: string) => {
    if (state.get(r) === 'done') return;
    if (state.get(r) === 'visiting') throw new RecipeError(file, via, `the documents use each other's outputs in a cycle (through ${r.name})`);
    state.set(r, 'visiting');
    for (const m of modelsOf(r)) if (m.stage !== undefined) visit(byName.get(m.stage)!, m.where);
    state.set(r, 'done');
    order.push(r);
  };
  for (const r of recipes) visit(r, r.name ?? '');
  return [...order.filter((r) => r.name !== undefined), finals[0]!];
}

/** Every model reference of a recipe (base, sources, tokenizer source). */
export function modelsOf(r: Recipe): ModelSpec[] {
  const out: ModelSpec[] = [];
  if (r.base) out.push(r.base);
  for (const s of r.slices) {
    if (s.base) out.push(s.base);
    for (const src of s.sources) out.push(src.model);
  }
  if (r.tokenizer.source?.kind === 'model') out.push(r.tokenizer.source.model);
  for (const t of r.tokenizer.tokens.values()) if (t.source?.kind === 'model' || t.source?.kind === 'model_token') out.push(t.source.model);
  return out;
}

function yamlError(file: string, doc: Document.Parsed): RecipeError | undefined {
  const e = doc.errors[0];
  if (!e) return undefined;
  const where = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
  return new RecipeError(file, where, `invalid YAML: ${e.message.split('\n')[0]}`);
}

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

class Checker {
  constructor(
    private readonly file: string,
    private readonly strict: boolean,
    private readonly op: Operator,
    readonly warnings: string[] = [],
  ) {}

  /** Reports a key mergekit would ignore. */
  ignored(path: Path, problem: string): void {
    if (this.strict) throw new RecipeError(this.file, formatPath(path), problem);
    this.warnings.push(`${this.file}: ${formatPath(path)}: ${problem}`);
  }

  keys(obj: Record<string, unknown> | undefined, known: readonly string[], path: Path): void {
    if (!obj) return;
    const params = this.op.params.map((p) => p.name);
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      if (params.includes(key)) {
        this.ignored([...path, key], `unknown key here; ${key} is a parameter of ${this.op.name}: put it under parameters`);
        continue;
      }
      const s = closest(key, [...known, ...params]);
      this.ignored([...path, key], s ? `unknown key, did you mean ${s}?` : 'unknown key');
    }
  }

  /**
   * Checks a parameter map: names known to the operator, values of the right type and range.
   * Returns the map with the known parameters normalised (numbers coerced) and unknown ones dropped.
   */
  params(map: Record<string, unknown> | undefined, path: Path, level: 'model' | 'global'): ParamMap | undefined {
    if (!map) return undefined;
    const out: Record<string, ParamValueInput> = {};
    for (const [key, value] of Object.entries(map)) {
      const spec = this.op.params.find((p) => p.name === key);
      const at = [...path, key];
      if (!spec) {
        const s = closest(key, [...this.op.params.map((p) => p.name), ...KNOWN_KEYS.recipe]);
        this.ignored(
          at,
          s ? `unknown key, did you mean ${s}?` : `unknown key (${this.op.name} takes ${this.op.params.map((p) => p.name).join(', ') || 'no parameters'})`,
        );
        continue;
      }
      if (spec.scope === 'global' && level === 'model') {
        this.ignored(at, `${key} is a global parameter of ${this.op.name}; per-model values are ignored`);
        continue;
      }
      out[key] = this.value(value, spec, at, true);
    }
    return out;
  }

  private value(v: unknown, spec: ParamSpec, path: Path, top: boolean): ParamValueInput {
    if (Array.isArray(v)) {
      if (v.length === 0) throw new RecipeError(this.file, formatPath(path), 'must not be an empty list');
      if (top && v.every((item) => typeof item === 'object' && item !== null && !Array.isArray(item))) {
        return v.map((item: Record<string, unknown>, i) => {
          this.keys(item, KNOWN_KEYS.filter, [...path, i]);
          if (item.filter !== undefined && typeof item.filter !== 'string')
            throw new RecipeError(this.file, formatPath([...path, i, 'filter']), 'must be a string');
          if (!('value' in item)) throw new RecipeError(this.file, formatPath([...path, i, 'value']), 'required');
          return {
            filter: item.filter as string | undefined,
            value: this.value(item.value, spec, [...path, i, 'value'], false) as number | boolean | number[],
          };
        });
      }
      if (spec.type !== 'number') throw new RecipeError(this.file, formatPath(path), `must be true or false, got ${JSON.stringify(v)}`);
      return v.map((item, i) => this.scalar(item, spec, [...path, i]) as number);
    }
    return this.scalar(v, spec, path);
  }

  private scalar(raw: unknown, spec: ParamSpec, path: Path): number | boolean {
    const v = spec.type === 'boolean' ? coerceBoolean(raw) : coerceNumber(raw);
    if (spec.type === 'boolean') {
      if (typeof v !== 'boolean') throw new RecipeError(this.file, formatPath(path), `must be true or false, got ${JSON.stringify(v)}`);
      return v;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RecipeError(this.file, formatPath(path), `must be a number, got ${JSON.stringify(v)}`);
    checkRange(this.file, path, v, spec);
    return v;
  }
}

function checkRange(file: string, path: Path, v: number, spec: ParamSpec): void {
  const r = spec.range;
  if (!r) return;
  const low = r.min === undefined || (r.minExclusive ? v > r.min : v >= r.min);
  const high = r.max === undefined || (r.maxExclusive ? v < r.max : v <= r.max);
  if (low && high) return;
  const lo = r.min === undefined ? '(-inf' : `${r.minExclusive ? '(' : '['}${r.min}`;
  const hi = r.max === undefined ? 'inf)' : `${r.max}${r.maxExclusive ? ')' : ']'}`;
  throw new RecipeError(file, formatPath(path), `must be in ${lo}, ${hi}, got ${v}`);
}

function dtypeOf(file: string, path: string, name: string | undefined): FloatDtype | undefined {
  if (name === undefined) return undefined;
  const d = dtypeFromTorchName(name);
  if (!d) throw new RecipeError(file, path, `unknown dtype ${name}`);
  return d;
}

function parseDocument(doc: Document.Parsed, file: string, opts: ParseOptions, names: Set<string>): Recipe {
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
    outDtype: dtypeOf(file, 'out_dtype', r.out_dtype),
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

function tokenEmbeddings(
  file: string,
  tokens: NonNullable<RecipeDocument['tokenizer']>['tokens'],
  check: Checker,
  model: (ref: string, where: string) => ModelSpec,
): Map<string, TokenEmbeddingSpec> {
  const out = new Map<string, TokenEmbeddingSpec>();
  for (const [token, cfg] of Object.entries(tokens ?? {})) {
    const at: Path = ['tokenizer', 'tokens', token];
    check.keys(cfg, KNOWN_KEYS.token, at);
    const src = cfg.source;
    let source: TokenEmbeddingSpec['source'];
    if (src === undefined) source = undefined;
    else if (typeof src === 'string') source = { kind: 'model', model: model(src, formatPath([...at, 'source'])) };
    else if (src.kind === 'zero') source = { kind: 'zero' };
    else {
      check.keys(src, KNOWN_KEYS.modelToken, [...at, 'source']);
      if ((src.token_id === undefined) === (src.token === undefined))
        throw new RecipeError(file, formatPath([...at, 'source']), 'a model_token source needs exactly one of token_id and token');
      if (src.token_id !== undefined && src.token_id < 0)
        throw new RecipeError(file, formatPath([...at, 'source', 'token_id']), `must be a non-negative integer, got ${src.token_id}`);
      source = { kind: 'model_token', model: model(src.model, formatPath([...at, 'source', 'model'])), tokenId: src.token_id, token: src.token };
    }
    if (source === undefined && cfg.force === true) throw new RecipeError(file, formatPath([...at, 'force']), 'force needs a source');
    out.set(token, { source, force: cfg.force ?? false, where: formatPath(at) });
  }
  return out;
}

function chatTemplate(file: string, value: string | undefined): ChatTemplateSpec | undefined {
  if (value === undefined) return undefined;
  if (value === 'auto') return { kind: 'auto' };
  const named = CHAT_TEMPLATES[value];
  if (named !== undefined) return { kind: 'template', name: value, template: named };
  // a literal template has Jinja in it; anything else is a name we do not know (a typo would otherwise be written as the template)
  if (!/\{\{|\{%/.test(value)) {
    const s = closest(value, Object.keys(CHAT_TEMPLATES));
    throw new RecipeError(
      file,
      'chat_template',
      `unknown template ${value}${s ? `, did you mean ${s}?` : ''} (auto, ${Object.keys(CHAT_TEMPLATES).join(', ')}, or a Jinja template)`,
    );
  }
  return { kind: 'template', name: undefined, template: value };
}

function tokenizerSource(source: string | undefined, where: string, model: (ref: string, where: string) => ModelSpec): TokenizerSource | undefined {
  if (source === undefined) return undefined;
  if (source === 'base') return { kind: 'base' };
  if (source === 'union') return { kind: 'union' };
  return { kind: 'model', model: model(source, where) };
}

/** Base and model counts, and parameters the operator requires. */
function checkOperatorInputs(file: string, op: Operator, slice: SliceSpec, global: ParamMap | undefined): void {
  const base = slice.base;
  if (op.base === 'required' && !base) throw new RecipeError(file, 'base_model', `required by ${op.name}`);
  const models = slice.sources.filter((s) => !base || s.model.path !== base.path);
  if (models.length < op.models.min)
    throw new RecipeError(
      file,
      slice.where,
      `${op.name} needs at least ${op.models.min} model${op.models.min > 1 ? 's' : ''} besides the base, got ${models.length}`,
    );
  if (op.models.max !== undefined && models.length > op.models.max)
    throw new RecipeError(
      file,
      slice.where,
      `${op.name} takes at most ${op.models.max} model${op.models.max > 1 ? 's' : ''} besides the base, got ${models.length}`,
    );
  const has = (map: ParamMap | undefined, name: string) => map !== undefined && Object.hasOwn(map, name);
  for (const p of op.params) {
    if (p.default !== undefined) continue;
    if (p.scope === 'global') {
      if (!has(slice.parameters, p.name) && !has(global, p.name)) throw new RecipeError(file, 'parameters', `${p.name} is required by ${op.name}`);
      continue;
    }
    const needing = op.weighsBase && base ? slice.sources : models;
    for (const s of needing) {
      if (!has(s.parameters, p.name) && !has(slice.parameters, p.name) && !has(global, p.name)) {
        throw new RecipeError(file, `${s.where}.parameters`, `${p.name} is required by ${op.name}`);
      }
    }
    if (op.weighsBase && base && !slice.sources.some((s) => s.model.path === base.path) && !has(slice.parameters, p.name) && !has(global, p.name)) {
      throw new RecipeError(file, 'base_model', `${op.name} needs a ${p.name} for the base model too: list it under models with parameters.${p.name}`);
    }
  }
}

function aimSpec(file: string, aim: RecipeDocument['aim'], base: ModelSpec | undefined, recipeDir: string, cwd: string): AimSpec | undefined {
  if (!aim) return undefined;
  const omega = aim.omega ?? 0.4;
  if (!(omega >= 0 && omega <= 1)) throw new RecipeError(file, 'aim.omega', `must be in [0, 1], got ${omega}`);
  if (aim.chains !== undefined && aim.chains < 1) throw new RecipeError(file, 'aim.chains', `must be a positive integer, got ${aim.chains}`);
  if (!base) throw new RecipeError(file, 'aim', 'needs base_model: AIM moves salient channels back toward the base');
  if (!/\.(jsonl|arrow)$/.test(aim.calibration))
    throw new RecipeError(file, 'aim.calibration', `must be a .jsonl calibration file or an .arrow statistics file, got ${aim.calibration}`);
  const candidates = isAbsolute(aim.calibration) ? [aim.calibration] : [resolve(recipeDir, aim.calibration), resolve(cwd, aim.calibration)];
  const calibration = candidates.find((p) => existsSync(p));
  if (!calibration) throw new RecipeError(file, 'aim.calibration', `${aim.calibration}: no such file (looked in ${[...new Set(candidates)].join(', ')})`);
  return { calibration, omega, chains: aim.chains };
}
