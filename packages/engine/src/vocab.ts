// Vocabulary handling (`tokenizer_source`): the output vocabulary (a model's, or the union of
// the base's and the others' tokens) and, for every input model, where each output row of its
// embedding matrices comes from: its own row for the token, else the base's, else the only
// model that has it, else the mean of the models that have it (zeros if none). `tokenizer.tokens`
// names the row a model lacking the token takes instead (or, with force, every model), as
// mergekit's token embedding settings do.
import { type Vocabulary, readVocabulary } from '@tessera/checkpoint';
import type { ModelSpec, Recipe, TokenEmbeddingSpec } from '@tessera/recipe';
import { MergeInputError } from './errors.js';

/** Sources of one output row: [] zeros; one (dir, row) copies it; several average them; 'all' averages every row of the model. */
export type RowSource = { dir: string; row: number }[] | { all: string };

export interface VocabPlan {
  /** rows of the output embedding matrices */
  rows: number;
  /** where the tokenizer files come from, and tokens appended to it (union) */
  tokenizer: { dir: string; extra: { token: string; id: number; special: boolean }[] };
  /** the row sources of the re-indexed embedding matrices of a model */
  rowsFor(dir: string): RowSource[];
}

/**
 * `embedRows` gives each model's number of embedding rows (tokenizer ids at or past it have no
 * row in that model).
 */
export async function planVocabulary(
  recipe: Recipe,
  baseDir: string | undefined,
  dirs: string[],
  embedRows: ReadonlyMap<string, number>,
  dirOf: (m: ModelSpec) => string,
  warnings: string[],
): Promise<VocabPlan | undefined> {
  const src = recipe.tokenizer.source;
  if (!src) return undefined;
  const vocabs = new Map<string, Vocabulary>();
  for (const d of dirs) vocabs.set(d, await readVocabulary(d));
  // the vocabulary followed: the named model's, else the base's (the first model's without a base)
  const primary = src.kind === 'model' ? src.model.path : (baseDir ?? dirs[0]);
  if (!primary) throw new MergeInputError(`${recipe.file}: tokenizer_source has no model to follow`);
  if (!vocabs.has(primary)) vocabs.set(primary, await readVocabulary(primary));
  const out = new Map(vocabs.get(primary)!.ids);
  let size = vocabs.get(primary)!.size;
  const extra: VocabPlan['tokenizer']['extra'] = [];
  if (src.kind === 'union') {
    for (const d of dirs) {
      const v = vocabs.get(d)!;
      const byId = [...v.ids].sort((a, b) => a[1] - b[1]);
      for (const [token] of byId) {
        if (out.has(token)) continue;
        out.set(token, size);
        extra.push({ token, id: size, special: v.special.has(token) });
        size++;
      }
    }
  }
  const pad = recipe.tokenizer.padToMultipleOf;
  const rows = pad && pad > 0 ? Math.ceil(size / pad) * pad : size;
  const tokens = Array.from<string | undefined>({ length: size });
  for (const [token, id] of out) tokens[id] = token;
  const configured = configuredRows(recipe, vocabs, embedRows, dirOf, new Set(tokens), warnings);
  const cache = new Map<string, RowSource[]>();
  return {
    rows,
    tokenizer: { dir: primary, extra },
    rowsFor(dir) {
      const hit = cache.get(dir);
      if (hit) return hit;
      const has = (d: string, token: string) => {
        const id = vocabs.get(d)?.ids.get(token);
        return id !== undefined && id < (embedRows.get(d) ?? 0) ? id : undefined;
      };
      const sources: RowSource[] = tokens.map((token) => {
        if (token === undefined) return [];
        const id = has(dir, token);
        const set = configured.get(token);
        if (id !== undefined && !set?.force) return [{ dir, row: id }];
        if (set) return set.rows;
        if (baseDir !== undefined && has(baseDir, token) !== undefined) return [{ dir: baseDir, row: has(baseDir, token)! }];
        return dirs.flatMap((d) => (has(d, token) !== undefined ? [{ dir: d, row: has(d, token)! }] : []));
      });
      for (let r = size; r < rows; r++) sources.push({ all: dir });
      cache.set(dir, sources);
      return sources;
    },
  };
}

/** The rows `tokenizer.tokens` sets, checked against the models' vocabularies and embeddings. */
function configuredRows(
  recipe: Recipe,
  vocabs: ReadonlyMap<string, Vocabulary>,
  embedRows: ReadonlyMap<string, number>,
  dirOf: (m: ModelSpec) => string,
  outTokens: ReadonlySet<string | undefined>,
  warnings: string[],
): Map<string, { rows: RowSource; force: boolean }> {
  const out = new Map<string, { rows: RowSource; force: boolean }>();
  for (const [token, spec] of recipe.tokenizer.tokens) {
    if (!outTokens.has(token)) {
      warnings.push(`${recipe.file}: ${spec.where}: ${JSON.stringify(token)} is not in the output vocabulary; ignored`);
      continue;
    }
    if (spec.source === undefined) continue;
    out.set(token, { rows: rowOf(recipe.file, token, spec, vocabs, embedRows, dirOf), force: spec.force });
  }
  return out;
}

function rowOf(
  file: string,
  token: string,
  spec: TokenEmbeddingSpec,
  vocabs: ReadonlyMap<string, Vocabulary>,
  embedRows: ReadonlyMap<string, number>,
  dirOf: (m: ModelSpec) => string,
): RowSource {
  const src = spec.source!;
  if (src.kind === 'zero') return [];
  const dir = dirOf(src.model);
  const vocab = vocabs.get(dir);
  const where = `${file}: ${spec.where}.source`;
  if (!vocab) throw new MergeInputError(`${where}: ${src.model.ref} is not one of the models merged`);
  const row = src.kind === 'model' ? vocab.ids.get(token) : (src.tokenId ?? vocab.ids.get(src.token!));
  const named = src.kind === 'model_token' && src.tokenId !== undefined ? `id ${src.tokenId}` : JSON.stringify(src.kind === 'model' ? token : src.token);
  if (row === undefined) throw new MergeInputError(`${where}: token ${named} is not in the vocabulary of ${src.model.ref}`);
  if (row >= (embedRows.get(dir) ?? 0))
    throw new MergeInputError(`${where}: ${named} is past the ${embedRows.get(dir) ?? 0} embedding rows of ${src.model.ref}`);
  return [{ dir, row }];
}
