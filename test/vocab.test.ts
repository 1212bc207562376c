// Vocabulary handling: embeddings re-indexed to the output vocabulary (tokenizer_source base,
// union, or a model), and the tokenizer written to match.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
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

beforeAll(async () => {
  await ensureVocabFixtures();
});

describe('tokenizer_source', () => {
  it('base: a model with permuted token ids is re-indexed exactly', async () => {
    const plain = await merge('plain', `merge_method: task_arithmetic\nbase_model: ${ZOO}base\nmodels:\n  - {model: ${ZOO}up, parameters: {weight: 0.8}}\n`);
    const swapped = await merge(
      'swapped',
      `merge_method: task_arithmetic\nbase_model: ${ZOO}base\nmodels:\n  - {model: ${GENERATED}up-swapped, parameters: {weight: 0.8}}\ntokenizer_source: base\n`,
    );
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
    const out = await merge(
      'union',
      `merge_method: linear\nmodels:\n  - {model: ${ZOO}base, parameters: {weight: 1}}\n  - {model: ${GENERATED}base-ext, parameters: {weight: 1}}\ntokenizer_source: union\n`,
    );
    const base = await tensorBytes(join(ZOO, 'base'));
    const embed = out.get('model.embed_tokens.weight')!;
    expect(embed.shape).toEqual([263, 128]);
    expect(same(embed.bytes.subarray(0, 259 * ROW), base.get('model.embed_tokens.weight')!.bytes.subarray(0, 259 * ROW))).toBe(true);
    // <tool0..3> (ids 260-263 in base-ext) become 259-262, with base-ext's rows (copies of rows 120-123)
    expect(same(embed.bytes.subarray(259 * ROW), base.get('model.embed_tokens.weight')!.bytes.subarray(120 * ROW, 124 * ROW))).toBe(true);
    const tok = JSON.parse(readFileSync(join(dir, 'union', 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number; content: string }[] };
    expect(tok.added_tokens.slice(-4).map((a) => [a.id, a.content])).toEqual([
      [259, '<tool0>'],
      [260, '<tool1>'],
      [261, '<tool2>'],
      [262, '<tool3>'],
    ]);
    expect(JSON.parse(readFileSync(join(dir, 'union', 'config.json'), 'utf8')).vocab_size).toBe(263);
  });

  it("a model's tokenizer, padded to a multiple with mean rows", async () => {
    const out = await merge(
      'model-src',
      `merge_method: task_arithmetic\nbase_model: ${ZOO}base\nmodels:\n  - {model: ${GENERATED}base-ext, parameters: {weight: 1}}\ntokenizer:\n  source: ${GENERATED}base-ext\n  pad_to_multiple_of: 16\n`,
    );
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
    await mergeRecipeFile(join(dir, 'karcher.yaml'), {
      out: join(dir, 'karcher'),
      fsync: false,
      onEvent: (e) => {
        if (e.type === 'warning') warnings.push(e.message);
      },
    });
    const out = await tensorBytes(join(dir, 'karcher'));
    expect(out.get('model.embed_tokens.weight')!.shape).toEqual([260, 128]);
    expect(warnings.join('\n')).toMatch(/model.embed_tokens.weight: inputs have 264, 260 rows; merging the first 260/);
    writeFileSync(
      join(dir, 'multislerp.yaml'),
      `merge_method: multislerp\nmodels:\n  - {model: ${GENERATED}base-ext, parameters: {weight: 1}}\n  - {model: ${ZOO}up, parameters: {weight: 1}}\n`,
    );
    await expect(mergeRecipeFile(join(dir, 'multislerp.yaml'), { out: join(dir, 'multislerp'), fsync: false })).rejects.toThrow(
      /inputs have 264, 260 rows and multislerp does not rectify embeddings; set tokenizer_source/,
    );
  });

  it('without tokenizer_source, a model with fewer rows than the base is a clear error', async () => {
    writeFileSync(
      join(dir, 'bad.yaml'),
      `merge_method: ties\nbase_model: ${GENERATED}base-ext\nmodels:\n  - {model: ${ZOO}up, parameters: {weight: 1, density: 0.5}}\n`,
    );
    await expect(mergeRecipeFile(join(dir, 'bad.yaml'), { out: join(dir, 'bad'), fsync: false })).rejects.toThrow(
      /tensor model.embed_tokens.weight: models\[0\] has 260 rows, fewer than the 264 of base_model; set tokenizer_source/,
    );
  });
});

describe('tokenizer block, per-token embeddings and chat templates', () => {
  const row = (t: { bytes: Uint8Array }, r: number) => t.bytes.subarray(r * ROW, (r + 1) * ROW);

  it('tokenizer: {} builds the union vocabulary, as mergekit defaults it', async () => {
    const out = await merge(
      'empty-block',
      `merge_method: linear\nmodels:\n  - {model: ${ZOO}base, parameters: {weight: 1}}\n  - {model: ${GENERATED}base-ext, parameters: {weight: 1}}\ntokenizer: {}\n`,
    );
    expect(out.get('model.embed_tokens.weight')!.shape).toEqual([263, 128]);
  });

  it('tokens: a zero source for the models lacking a token, and a forced row from another token of a model', async () => {
    const ext = await tensorBytes(join(GENERATED, 'base-ext'));
    const out = await merge(
      'tokens',
      `merge_method: linear\nmodels:\n  - {model: ${ZOO}base, parameters: {weight: 1}}\n  - {model: ${GENERATED}base-ext, parameters: {weight: 1}}\ntokenizer:\n  source: union\n  tokens:\n    <tool0>: {source: {kind: zero}}\n    a: {source: {kind: model_token, model: ${GENERATED}base-ext, token: b}, force: true}\n`,
    );
    const embed = out.get('model.embed_tokens.weight')!;
    const extEmbed = ext.get('model.embed_tokens.weight')!;
    // <tool0> (259 in the output, 260 in base-ext): base takes zeros, so the mean is half base-ext's row (exact in bf16)
    const half = new Uint16Array(128);
    const src = new Uint16Array(row(extEmbed, 260).slice().buffer);
    const f = new Float32Array(1),
      u = new Uint32Array(f.buffer);
    for (let i = 0; i < 128; i++) {
      u[0] = src[i]! << 16;
      f[0] = f[0]! / 2;
      half[i] = u[0]! >>> 16;
    }
    expect(same(row(embed, 259), new Uint8Array(half.buffer))).toBe(true);
    // "a" (97) takes base-ext's row of "b" (98) in every model
    expect(same(row(embed, 97), row(extEmbed, 98))).toBe(true);
    expect(same(row(embed, 98), row(extEmbed, 98))).toBe(true);
    // untouched tokens keep their merged rows
    expect(same(row(embed, 99), row(extEmbed, 99))).toBe(true);
  });

  it('tokens: a source that does not have the token is a clear error', async () => {
    writeFileSync(
      join(dir, 'bad-token.yaml'),
      `merge_method: linear\nmodels:\n  - {model: ${ZOO}base, parameters: {weight: 1}}\n  - {model: ${GENERATED}base-ext, parameters: {weight: 1}}\ntokenizer:\n  tokens:\n    <tool1>: {source: ${ZOO}base}\n`,
    );
    await expect(mergeRecipeFile(join(dir, 'bad-token.yaml'), { out: join(dir, 'bad-token'), fsync: false })).rejects.toThrow(
      /tokenizer\.tokens\.<tool1>\.source: token "<tool1>" is not in the vocabulary of .*zoo\/base/,
    );
  });

  it('chat_template: a named template, auto (the most common among the inputs), and an unknown name refused', async () => {
    const withTemplate = (name: string, template: string | undefined) => {
      const d = join(dir, `chat-${name}`);
      cpSync(join(ZOO, name), d, { recursive: true });
      const cfg = JSON.parse(readFileSync(join(d, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
      if (template !== undefined) cfg.chat_template = template;
      writeFileSync(join(d, 'tokenizer_config.json'), JSON.stringify(cfg));
      return d;
    };
    const [a, b, c] = [withTemplate('up', '{{ one }}'), withTemplate('rev', '{{ two }}'), withTemplate('add', '{{ two }}')];
    await merge(
      'chat-auto',
      `merge_method: task_arithmetic\nbase_model: ${ZOO}base\nmodels:\n  - {model: ${a}, parameters: {weight: 1}}\n  - {model: ${b}, parameters: {weight: 1}}\n  - {model: ${c}, parameters: {weight: 1}}\nchat_template: auto\n`,
    );
    expect(JSON.parse(readFileSync(join(dir, 'chat-auto', 'tokenizer_config.json'), 'utf8')).chat_template).toBe('{{ two }}');
    await merge(
      'chat-named',
      `merge_method: task_arithmetic\nbase_model: ${ZOO}base\nmodels:\n  - {model: ${a}, parameters: {weight: 1}}\nchat_template: chatml\n`,
    );
    const named = JSON.parse(readFileSync(join(dir, 'chat-named', 'tokenizer_config.json'), 'utf8')).chat_template as string;
    expect(named).toContain('<|im_start|>');
    expect(named).toContain("message['role']");
    writeFileSync(
      join(dir, 'chat-typo.yaml'),
      `merge_method: task_arithmetic\nbase_model: ${ZOO}base\nmodels:\n  - {model: ${a}, parameters: {weight: 1}}\nchat_template: chatm1\n`,
    );
    await expect(mergeRecipeFile(join(dir, 'chat-typo.yaml'), { out: join(dir, 'chat-typo'), fsync: false })).rejects.toThrow(
      /chat_template: unknown template chatm1, did you mean chatml\?/,
    );
  });
});
