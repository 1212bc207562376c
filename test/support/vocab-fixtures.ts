// Zoo models with other vocabularies, generated for the vocabulary tests (test/fixtures/generated,
// not committed): `up-swapped` is the `up` expert with the ids of tokens "a" and "b" swapped (and
// its embedding rows with them); `base-ext` is the base with 4 more tokens (ids 260-263).
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOutputFiles, openCheckpoint, openSource, planOutput, writeAt } from '@tessera/checkpoint';

export const ZOO = fileURLToPath(new URL('../fixtures/zoo/', import.meta.url));
export const GENERATED = fileURLToPath(new URL('../fixtures/generated/', import.meta.url));
const EMBEDDINGS = ['model.embed_tokens.weight', 'lm_head.weight'];

type Transform = (name: string, shape: number[], bytes: Uint8Array) => { shape: number[]; bytes: Uint8Array };

async function rewrite(src: string, dst: string, transform: Transform, edit: (dir: string) => void): Promise<void> {
  if (existsSync(join(dst, 'model.safetensors'))) return;
  const tmp = `${dst}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  cpSync(src, tmp, { recursive: true });
  rmSync(join(tmp, 'model.safetensors'));
  const c = await openCheckpoint(src);
  const out: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[] = [];
  for (const t of c.tensors.values()) {
    const bytes = new Uint8Array(t.byteLength);
    const s = openSource(t.file);
    await s.readInto(t.offset, bytes);
    await s.close();
    out.push({ name: t.name, dtype: t.dtype, ...transform(t.name, t.shape, bytes) });
  }
  const layout = planOutput(out);
  await createOutputFiles(tmp, layout);
  for (const [i, t] of layout.files[0]!.tensors.entries()) await writeAt(join(tmp, 'model.safetensors'), t.offset, out[i]!.bytes);
  edit(tmp);
  mkdirSync(GENERATED, { recursive: true });
  rmSync(dst, { recursive: true, force: true });
  renameSync(tmp, dst);
}

// biome-ignore lint/suspicious/noExplicitAny: tokenizer and config files are free-form JSON
type Json = Record<string, any>;

function editJson(path: string, f: (j: Json) => void): void {
  const j = JSON.parse(readFileSync(path, 'utf8')) as Json;
  f(j);
  writeFileSync(path, JSON.stringify(j, null, 2));
}

export async function ensureVocabFixtures(): Promise<string> {
  const rowBytes = 128 * 2;
  await rewrite(
    join(ZOO, 'up'),
    join(GENERATED, 'up-swapped'),
    (name, shape, bytes) => {
      if (!EMBEDDINGS.includes(name)) return { shape, bytes };
      const b = bytes.slice();
      b.set(bytes.subarray(97 * rowBytes, 98 * rowBytes), 98 * rowBytes);
      b.set(bytes.subarray(98 * rowBytes, 99 * rowBytes), 97 * rowBytes);
      return { shape, bytes: b };
    },
    (dir) =>
      editJson(join(dir, 'tokenizer.json'), (t) => {
        t.model.vocab.a = 98;
        t.model.vocab.b = 97;
      }),
  );
  await rewrite(
    join(ZOO, 'base'),
    join(GENERATED, 'base-ext'),
    (name, shape, bytes) => {
      if (!EMBEDDINGS.includes(name)) return { shape, bytes };
      const b = new Uint8Array(bytes.byteLength + 4 * rowBytes);
      b.set(bytes);
      for (let k = 0; k < 4; k++) b.set(bytes.subarray((120 + k) * rowBytes, (121 + k) * rowBytes), (260 + k) * rowBytes);
      return { shape: [264, 128], bytes: b };
    },
    (dir) => {
      editJson(join(dir, 'tokenizer.json'), (t) => {
        for (let k = 0; k < 4; k++)
          t.added_tokens.push({ id: 260 + k, content: `<tool${k}>`, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
      });
      editJson(join(dir, 'config.json'), (c) => {
        c.vocab_size = 264;
      });
    },
  );
  return GENERATED;
}
