// The tokenizer of a checkpoint, from its tokenizer.json (and tokenizer_config.json): encodes a
// prompt with the model's special tokens (BOS for Llama) and an answer without them.
import { fileIn, readTextIfExists } from '@tessera/checkpoint';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelError } from './errors.js';

export interface TextEncoder {
  /** ids of a prompt, with the special tokens the model expects (BOS) */
  prompt(text: string): number[];
  /** ids of a continuation, without special tokens */
  continuation(text: string): number[];
  eos: number;
}

export async function loadTokenizer(dir: string, eos: number | undefined): Promise<TextEncoder> {
  const path = fileIn(dir, 'tokenizer.json');
  const text = await readTextIfExists(path);
  if (text === undefined) throw new ModelError(dir, "no tokenizer.json: evaluation needs the model's tokenizer");
  const config = await readTextIfExists(fileIn(dir, 'tokenizer_config.json'));
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(JSON.parse(text) as object, config ? (JSON.parse(config) as object) : {});
  } catch (e) {
    throw new ModelError(path, `cannot load the tokenizer (${(e as Error).message})`);
  }
  if (eos === undefined) throw new ModelError(fileIn(dir, 'config.json'), 'eos_token_id is missing: evaluation stops at EOS');
  return {
    prompt: (s) => tok.encode(s).ids,
    continuation: (s) => tok.encode(s, { add_special_tokens: false }).ids,
    eos,
  };
}
