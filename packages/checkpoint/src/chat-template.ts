// A model's chat template: `chat_template` in tokenizer_config.json (a Jinja string, or a list
// of named templates), or a chat_template.jinja file beside it as newer tokenizers save it.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from './errors.js';
import { fileIn, readTextIfExists } from './location.js';

export type ChatTemplate = string | { name: string; template: string }[];

/** The model's chat template, or undefined when it has none. */
export async function readChatTemplate(dir: string): Promise<ChatTemplate | undefined> {
  const jinja = await readTextIfExists(fileIn(dir, 'chat_template.jinja'));
  if (jinja !== undefined) return jinja;
  const path = fileIn(dir, 'tokenizer_config.json');
  const text = await readTextIfExists(path);
  if (text === undefined) return undefined;
  let config: { chat_template?: unknown };
  try {
    config = JSON.parse(text) as typeof config;
  } catch (cause) {
    throw new CheckpointError(path, `not valid JSON (${(cause as Error).message})`, undefined, { cause });
  }
  const t = config.chat_template;
  return typeof t === 'string' || Array.isArray(t) ? (t as ChatTemplate) : undefined;
}

/** Sets the chat template of the tokenizer files in `dir` (creating tokenizer_config.json if needed). */
export async function writeChatTemplate(dir: string, template: ChatTemplate): Promise<void> {
  const path = join(dir, 'tokenizer_config.json');
  const text = await readFile(path, 'utf8').catch(() => '{}');
  const config = JSON.parse(text) as Record<string, unknown>;
  config.chat_template = template;
  await writeFile(path, JSON.stringify(config, null, 2) + '\n');
  // a copied chat_template.jinja would take precedence over the config's template: keep them equal
  const jinja = join(dir, 'chat_template.jinja');
  if (
    await stat(jinja).then(
      () => true,
      () => false,
    )
  ) {
    if (typeof template === 'string') await writeFile(jinja, template);
    else await writeFile(jinja, template[0]?.template ?? '');
  }
}
