// Vocabulary handling: embeddings re-indexed to the output vocabulary (tokenizer_source base,
// union, or a model), and the tokenizer written to match.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mergeRecipeFile } from '@tessera/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { same, tensorBytes } from './support/tensors.js';
import { tempDir } from './support/tmp.js';
import { GENERATED, ZOO, ensureVocabFixtures } from './support/vocab-fixtures.js';

const dir = tempDir('vocab');
const ROW = 128 * 2;

async function merge(name: string, recipe: string) {
  writeFileSync(join(dir, `${name}.yaml`), recipe);
  await mergeRecipeFile(join(dir, `${name}.yaml`), { out: join(dir, name), workers: 2, fsync: false });
  return tensorBytes(join(dir, name));
}

beforeAll(async () => { await ensureVocabFixtures(); });

describe('tokenizer_source', () => {
  it('base: a model with permuted token ids is re-indexed exactly', async () => {
    const plain = await merge('plain', `merge_method: task_arithmetic\nbase_model: ${ZOO}base\nmodels:\n  - {model: ${ZOO}up, parameters: {weight: 0.8}}\n`);
    const swapped = await merge('swapped', `merge_method: task_arithmetic\nbase_model: ${ZOO}base\nmodels:\n  - {model: ${GENERATED}up-swapped, parameters: {weight: 0.8}}\ntokenizer_source: base\n`);
    for (const [name, t] of plain) {
      const s = swapped.get(name)!;
      if (name.includes('embed_tokens') || name.startsWith('lm_head')) {
        expect(s.shape).toEqual([259, 128]); // the base tokenizer's 259 ids
        expect(same(s.bytes, t.bytes.subarray(0, 259 * ROW)), name).toBe(true);
      } else expect(same(s.bytes, t.bytes), name).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(dir, 'swapped', 'config.json'), 'utf8')).vocab_size).toBe(259);
    expect(readFileSync(join(dir, 'swapped', 'tokenizer.json'))).toEqual(readFileSync(join(ZOO, 'base', 'tokenizer.json')));
  });

  it('union: tokens of the other models are appended, their rows taken from the models that have them', async () => {
    const out = await merge('union', `merge_method: linear\nmodels:\n  - {model: ${ZOO}base, parameters: {weight: 1}}\n  - {model: ${GENERATED}base-ext, parameters: {weight: 1}}\ntokenizer_source: union\n`);
    const base = await tensorBytes(join(ZOO, 'base'));
    const embed = out.get('model.embed_tokens.weight')!;
    expect(embed.shape).toEqual([263, 128]);
    expect(same(embed.bytes.subarray(0, 259 * ROW), base.get('model.embed_tokens.weight')!.bytes.subarray(0, 259 * ROW))).toBe(true);
    // <tool0..3> (ids 260-263 in base-ext) become 259-262, with base-ext's rows (copies of rows 120-123)
    expect(same(embed.bytes.subarray(259 * ROW), base.get('model.embed_tokens.weight')!.bytes.subarray(120 * ROW, 124 * ROW))).toBe(true);
    const tok = JSON.parse(readFileSync(join(dir, 'union', 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number; content: string }[] };
    expect(tok.added_tokens.slice(-4).map((a) => [a.id, a.content])).toEqual([[259, '<tool0>'], [260, '<tool1>'], [261, '<tool2>'], [262, '<tool3>']]);
    expect(JSON.parse(readFileSync(join(dir, 'union', 'config.json'), 'utf8')).vocab_size).toBe(263);
  });

  it('a model\'s tokenizer, padded to a multiple with mean rows', async () => {
    const out = await merge('model-src', `merge_method: task_arithmetic\nbase_model: ${ZOO}base\nmodels:\n  - {model: ${GENERATED}base-ext, parameters: {weight: 1}}\ntokenizer:\n  source: ${GENERATED}base-ext\n  pad_to_multiple_of: 16\n`);
    const ext = await tensorBytes(join(GENERATED, 'base-ext'));
    const embed = out.get('model.embed_tokens.weight')!;
    expect(embed.shape).toEqual([272, 128]); // 264 ids, padded to 272
    // the base lacks <tool*>: it takes base-ext's rows, so the task vector is 0 there and x = base-ext
    expect(same(embed.bytes.subarray(260 * ROW, 264 * ROW), ext.get('model.embed_tokens.weight')!.bytes.subarray(260 * ROW, 264 * ROW))).toBe(true);
    expect(readFileSync(join(dir, 'model-src', 'tokenizer.json'))).toEqual(readFileSync(join(GENERATED, 'base-ext', 'tokenizer.json')));
  });

  it('without tokenizer_source, each operator treats embeddings of other sizes as it declares: karcher merges the common rows, multislerp refuses', async () => {
    writeFileSync(join(dir, 'karcher.yaml'), `merge_method: karcher\nmodels:\n  - {model: ${GENERATED}base-ext}\n  - {model: ${ZOO}up}\n`);
    const warnings: string[] = [];
    await mergeRecipeFile(join(dir, 'karcher.yaml'), { out: join(dir, 'karcher'), fsync: false, onEvent: (e) => { if (e.type === 'warning') warnings.push(e.message); } });
    const out = await tensorBytes(join(dir, 'karcher'));
    expect(out.get('model.embed_tokens.weight')!.shape).toEqual([260, 128]);
    expect(warnings.join('\n')).toMatch(/model.embed_tokens.weight: inputs have 264, 260 rows; merging the first 260/);
    writeFileSync(join(dir, 'multislerp.yaml'), `merge_method: multislerp\nmodels:\n  - {model: ${GENERATED}base-ext, parameters: {weight: 1}}\n  - {model: ${ZOO}up, parameters: {weight: 1}}\n`);
    await expect(mergeRecipeFile(join(dir, 'multislerp.yaml'), { out: join(dir, 'multislerp'), fsync: false })).rejects.toThrow(/inputs have 264, 260 rows and multislerp does not rectify embeddings; set tokenizer_source/);
  });

  it('without tokenizer_source, a model with fewer rows than the base is a clear error', async () => {
    writeFileSync(join(dir, 'bad.yaml'), `merge_method: ties\nbase_model: ${GENERATED}base-ext\nmodels:\n  - {model: ${ZOO}up, parameters: {weight: 1, density: 0.5}}\n`);
    await expect(mergeRecipeFile(join(dir, 'bad.yaml'), { out: join(dir, 'bad'), fsync: false })).rejects.toThrow(/tensor model.embed_tokens.weight: models\[0\] has 260 rows, fewer than the 264 of base_model; set tokenizer_source/);
  });
});
