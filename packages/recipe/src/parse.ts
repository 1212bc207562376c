// Recipe files -> validated recipes: YAML documents, the names of intermediate merges, and the
// order in which a multi-document recipe runs. Each document is read by document.ts.
import { readFileSync } from 'node:fs';
import { type Document, parseAllDocuments } from 'yaml';
import { RecipeError } from './errors.js';
import type { ModelSpec, Recipe } from './types.js';
import { parseDocument } from './document.js';

export interface ParseOptions {
  /** unknown or misplaced keys are errors instead of warnings */
  strict?: boolean;
  /** where relative model paths are also looked up (default: process.cwd()) */
  cwd?: string;
}

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
