// The non-weight files of a Hugging Face model folder.
import { copyFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileIn, isRemote, readTextIfExists } from './location.js';

/** Tokenizer files copied from the tokenizer source, when present. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'tokenizer.model',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'vocab.txt',
  'chat_template.jinja',
] as const;

/** Copies the tokenizer files and generation_config.json that exist in `from` (a folder or a URL); returns their names. */
export async function copyModelFiles(from: string, to: string): Promise<string[]> {
  const copied: string[] = [];
  for (const name of [...TOKENIZER_FILES, 'generation_config.json']) {
    const src = fileIn(from, name);
    if (isRemote(from)) {
      const text = await readTextIfExists(src);
      if (text === undefined) continue;
      await writeFile(join(to, name), text);
    } else {
      if (
        !(await stat(src).then(
          (s) => s.isFile(),
          () => false,
        ))
      )
        continue;
      await copyFile(src, join(to, name));
    }
    copied.push(name);
  }
  return copied;
}

/** Writes config.json: the base config with the output dtype and any overrides. */
export async function writeConfig(to: string, config: Record<string, unknown>, overrides: Record<string, unknown>): Promise<void> {
  await writeFile(join(to, 'config.json'), JSON.stringify({ ...config, ...overrides }, null, 2) + '\n');
}
