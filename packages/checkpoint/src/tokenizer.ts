// The vocabulary of a Hugging Face tokenizer.json (BPE / WordPiece maps, Unigram lists, added
// tokens), and writing a tokenizer with extra tokens (a union vocabulary).
import { writeFile } from 'node:fs/promises';
import { fileIn, readTextIfExists } from './location.js';
import { join } from 'node:path';
import { CheckpointError } from './errors.js';

export interface Vocabulary {
  /** token -> id */
  ids: Map<string, number>;
  /** one more than the largest id */
  size: number;
  /** added tokens marked special */
  special: Set<string>;
}

interface TokenizerJson {
  model?: { vocab?: Record<string, number> | [string, number][] };
  added_tokens?: { id: number; content: string; special?: boolean }[];
}

async function readTokenizer(dir: string): Promise<TokenizerJson> {
  const path = fileIn(dir, 'tokenizer.json');
  const text = await readTextIfExists(path);
  if (text === undefined) throw new CheckpointError(path, 'missing: vocabulary handling (tokenizer_source) needs the tokenizer.json of every model');
  try {
    return JSON.parse(text) as TokenizerJson;
  } catch (cause) {
    throw new CheckpointError(path, `not valid JSON (${(cause as Error).message})`, undefined, { cause });
  }
}

export async function readVocabulary(dir: string): Promise<Vocabulary> {
  const t = await readTokenizer(dir);
  const ids = new Map<string, number>();
  const vocab = t.model?.vocab;
  if (Array.isArray(vocab)) vocab.forEach(([token], id) => ids.set(token, id));
  else if (vocab && typeof vocab === 'object') for (const [token, id] of Object.entries(vocab)) if (Number.isInteger(id) && id >= 0) ids.set(token, id);
  const special = new Set<string>();
  for (const a of t.added_tokens ?? []) {
    if (!Number.isInteger(a.id) || a.id < 0) continue;
    ids.set(a.content, a.id);
    if (a.special) special.add(a.content);
  }
  if (ids.size === 0) throw new CheckpointError(fileIn(dir, 'tokenizer.json'), 'no vocabulary found (model.vocab or added_tokens)');
  let size = 0;
  for (const id of ids.values()) size = Math.max(size, id + 1);
  return { ids, size, special };
}

/** Writes `from`'s tokenizer files into `to` with `extra` tokens added after its vocabulary. */
export async function writeExtendedTokenizer(from: string, to: string, extra: { token: string; id: number; special: boolean }[]): Promise<void> {
  const t = await readTokenizer(from);
  t.added_tokens = [
    ...(t.added_tokens ?? []),
    ...extra.map((e) => ({
      id: e.id,
      content: e.token,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: !e.special,
      special: e.special,
    })),
  ];
  await writeFile(join(to, 'tokenizer.json'), JSON.stringify(t, null, 2) + '\n');
  const configText = await readTextIfExists(fileIn(from, 'tokenizer_config.json'));
  const config = configText === undefined ? undefined : (JSON.parse(configText) as Record<string, unknown>);
  if (config) {
    const decoder = (config.added_tokens_decoder ?? {}) as Record<string, unknown>;
    for (const e of extra)
      decoder[String(e.id)] = { content: e.token, lstrip: false, normalized: !e.special, rstrip: false, single_word: false, special: e.special };
    if (config.added_tokens_decoder !== undefined || extra.length > 0) config.added_tokens_decoder = decoder;
    await writeFile(join(to, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
  }
}
