// Vocabulary handling (`tokenizer_source`): the output vocabulary (a model's, or the union of
// the base's and the others' tokens) and, for every input model, where each output row of its
// embedding matrices comes from: its own row for the token, else the base's, else the only
// model that has it, else the mean of the models that have it (zeros if none).
import { type Vocabulary, readVocabulary } from '@tessera/checkpoint';
import type { Recipe } from '@tessera/recipe';
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
export async function planVocabulary(recipe: Recipe, baseDir: string | undefined, dirs: string[], embedRows: ReadonlyMap<string, number>): Promise<VocabPlan | undefined> {
  const src = recipe.tokenizer.source;
  if (!src) return undefined;
  const vocabs = new Map<string, Vocabulary>();
  for (const d of dirs) vocabs.set(d, await readVocabulary(d));
  // the vocabulary followed: the named model's, else the base's (the first model's without a base)
  const primary = src.kind === 'model' ? src.model.path : baseDir ?? dirs[0];
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
        if (id !== undefined) return [{ dir, row: id }];
        if (baseDir !== undefined && has(baseDir, token) !== undefined) return [{ dir: baseDir, row: has(baseDir, token)! }];
        return dirs.flatMap((d) => (has(d, token) !== undefined ? [{ dir: d, row: has(d, token)! }] : []));
      });
      for (let r = size; r < rows; r++) sources.push({ all: dir });
      cache.set(dir, sources);
      return sources;
    },
  };
}
