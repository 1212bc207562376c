// slices / layer_range recipes (frankenmerges and per-slice merges) and multi-document recipes.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mergeRecipeFile } from '@tessera/engine';
import { describe, expect, it } from 'vitest';
import { same, tensorBytes } from './support/tensors.js';
import { tempDir } from './support/tmp.js';
import { ZOO } from './support/vocab-fixtures.js';

const dir = tempDir('slices');

async function merge(name: string, recipe: string) {
  writeFileSync(join(dir, `${name}.yaml`), recipe);
  await mergeRecipeFile(join(dir, `${name}.yaml`), { out: join(dir, name), workers: 2, fsync: false });
  return tensorBytes(join(dir, name));
}

describe('slices', () => {
  it('stacks overlapping layer ranges of several models, renumbered (passthrough frankenmerge)', async () => {
    const out = await merge(
      'franken',
      `merge_method: passthrough
slices:
  - sources: [{model: ${ZOO}add, layer_range: [0, 2]}]
  - sources: [{model: ${ZOO}up, layer_range: [2, 4]}]
  - sources: [{model: ${ZOO}rev, layer_range: [1, 3]}]
dtype: bfloat16
`,
    );
    const [add, up, rev] = await Promise.all(['add', 'up', 'rev'].map((m) => tensorBytes(join(ZOO, m))));
    const from: [Map<string, { bytes: Uint8Array }>, number][] = [
      [add!, 0],
      [add!, 1],
      [up!, 2],
      [up!, 3],
      [rev!, 1],
      [rev!, 2],
    ];
    from.forEach(([src, layer], outLayer) => {
      for (const [name, t] of src) {
        if (!name.startsWith(`model.layers.${layer}.`)) continue;
        expect(same(out.get(name.replace(`layers.${layer}.`, `layers.${outLayer}.`))!.bytes, t.bytes), `${outLayer} <- ${name}`).toBe(true);
      }
    });
    expect(same(out.get('model.embed_tokens.weight')!.bytes, add!.get('model.embed_tokens.weight')!.bytes)).toBe(true);
    expect(same(out.get('model.norm.weight')!.bytes, rev!.get('model.norm.weight')!.bytes)).toBe(true);
    expect(same(out.get('lm_head.weight')!.bytes, rev!.get('lm_head.weight')!.bytes)).toBe(true);
    expect(out.size).toBe(3 + 6 * 9);
    expect(JSON.parse(readFileSync(join(dir, 'franken', 'config.json'), 'utf8')).num_hidden_layers).toBe(6);
  });

  it('per-slice merges equal the same merge written with models:', async () => {
    const models = await merge(
      'slerp-models',
      `merge_method: slerp\nbase_model: ${ZOO}base\nmodels: [{model: ${ZOO}base}, {model: ${ZOO}sort}]\nparameters: {t: 0.4}\n`,
    );
    const sliced = await merge(
      'slerp-slices',
      `merge_method: slerp
base_model: ${ZOO}base
slices:
  - sources: [{model: ${ZOO}base, layer_range: [0, 2]}, {model: ${ZOO}sort, layer_range: [0, 2]}]
  - sources: [{model: ${ZOO}base, layer_range: [2, 4]}, {model: ${ZOO}sort, layer_range: [2, 4]}]
parameters: {t: 0.4}
`,
    );
    expect([...sliced.keys()].sort()).toEqual([...models.keys()].sort());
    for (const [name, t] of models) expect(same(sliced.get(name)!.bytes, t.bytes), name).toBe(true);
  });

  it('gradients run over the layers of each slice; a slice may name its own operator', async () => {
    const out = await merge(
      'mixed',
      `merge_method: task_arithmetic
base_model: ${ZOO}base
slices:
  - sources: [{model: ${ZOO}base, layer_range: [0, 2]}, {model: ${ZOO}vow, layer_range: [0, 2], parameters: {weight: [0, 1]}}]
  - merge_method: passthrough
    sources: [{model: ${ZOO}max, layer_range: [2, 4]}]
`,
    );
    const [base, vow, max] = await Promise.all(['base', 'vow', 'max'].map((m) => tensorBytes(join(ZOO, m))));
    // slice 0 has 2 layers: weight 0 at layer 0 (the base), 1 at layer 1 (vow's tensor exactly: b + (x - b) in f32 of bf16 values)
    const q = 'self_attn.q_proj.weight';
    expect(same(out.get(`model.layers.0.${q}`)!.bytes, base!.get(`model.layers.0.${q}`)!.bytes)).toBe(true);
    expect(same(out.get(`model.layers.1.${q}`)!.bytes, vow!.get(`model.layers.1.${q}`)!.bytes)).toBe(true);
    expect(same(out.get(`model.layers.3.${q}`)!.bytes, max!.get(`model.layers.3.${q}`)!.bytes)).toBe(true);
    expect(same(out.get('lm_head.weight')!.bytes, max!.get('lm_head.weight')!.bytes)).toBe(true);
  });
});

describe('multi-document recipes', () => {
  it('runs named merges first, feeds them to later ones, and removes them when done', async () => {
    const stage1 = `name: add-up\nmerge_method: ties\nbase_model: ${ZOO}base\nmodels:\n  - {model: ${ZOO}add, parameters: {weight: 1, density: 0.3}}\n  - {model: ${ZOO}up, parameters: {weight: 1, density: 0.3}}\n`;
    const stage2 = `name: rev-dup\nmerge_method: task_arithmetic\nbase_model: ${ZOO}base\nmodels:\n  - {model: ${ZOO}rev, parameters: {weight: 0.7}}\n  - {model: ${ZOO}dup, parameters: {weight: 0.7}}\n`;
    const final = (a: string, b: string) =>
      `merge_method: linear\nmodels:\n  - {model: ${a}, parameters: {weight: 0.5}}\n  - {model: ${b}, parameters: {weight: 0.5}}\n`;
    const multi = await merge('multi', `${stage1}---\n${final('add-up', 'rev-dup')}---\n${stage2}`);
    await merge('s1', stage1);
    await merge('s2', stage2);
    const separate = await merge('s3', final(join(dir, 's1'), join(dir, 's2')));
    for (const [name, t] of separate) expect(same(multi.get(name)!.bytes, t.bytes), name).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('tessera-'))).toEqual([]);
  });

  it('refuses documents that use each other in a cycle, or two final documents', async () => {
    const doc = (name: string, uses: string) => `name: ${name}\nmerge_method: linear\nmodels: [{model: ${uses}, parameters: {weight: 1}}]\n`;
    writeFileSync(join(dir, 'cycle.yaml'), `${doc('a', 'b')}---\n${doc('b', 'a')}---\nmerge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\n`);
    await expect(mergeRecipeFile(join(dir, 'cycle.yaml'), { out: join(dir, 'bad') })).rejects.toThrow(/use each other's outputs in a cycle/);
    writeFileSync(
      join(dir, 'two.yaml'),
      `merge_method: linear\nmodels: [{model: ${ZOO}add, parameters: {weight: 1}}]\n---\nmerge_method: linear\nmodels: [{model: ${ZOO}up, parameters: {weight: 1}}]\n`,
    );
    await expect(mergeRecipeFile(join(dir, 'two.yaml'), { out: join(dir, 'bad') })).rejects.toThrow(/exactly one document without a name/);
  });
});
