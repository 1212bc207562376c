// Checks of a document's meaning beyond its shape: the operator's inputs and required parameters,
// AIM's settings, per-token embedding sources and the chat template.
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Operator } from '@tessera/tensor';
import { RecipeError, formatPath } from './errors.js';
import { KNOWN_KEYS, type RecipeDocument } from './schema.js';
import { closest } from './suggest.js';
import type { AimSpec, ModelSpec, SliceSpec, TokenEmbeddingSpec } from './types.js';
import { CHAT_TEMPLATES, type ChatTemplateSpec } from './chat-templates.js';
import type { ParamMap } from './values.js';
import type { Checker, Path } from './checker.js';

export function tokenEmbeddings(
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

export function chatTemplate(file: string, value: string | undefined): ChatTemplateSpec | undefined {
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

/** Base and model counts, and parameters the operator requires. */
export function checkOperatorInputs(file: string, op: Operator, slice: SliceSpec, global: ParamMap | undefined): void {
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

export function aimSpec(file: string, aim: RecipeDocument['aim'], base: ModelSpec | undefined, recipeDir: string, cwd: string): AimSpec | undefined {
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
