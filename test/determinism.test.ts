// The output depends only on the recipe, the inputs and the seed: never on the worker count,
// the slice size or re-running a task.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File } from '@tessera/checkpoint';
import { TaskRunner, mergeRecipeFile, mergeTask, planRecipe, statsTask } from '@tessera/engine';
import { loadRecipe } from '@tessera/recipe';
import { beforeAll, describe, expect, it } from 'vitest';
import { type LlamaShape, writeSyntheticModel, writeSyntheticTensors } from './support/synthetic.js';
import { tempDir } from './support/tmp.js';

// embed/lm_head 2M elements and MLP 1.18M elements: several slices at --slice-mb 1
const SHAPE: LlamaShape = { layers: 2, hidden: 512, intermediate: 2304, vocab: 4096, heads: 8, kvHeads: 2 };
const dir = tempDir('determinism');

const recipes: Record<string, string> = {
  linear:
    'merge_method: linear\nmodels:\n  - {model: e1, parameters: {weight: 0.5}}\n  - {model: e2, parameters: {weight: 0.3}}\n  - {model: e3, parameters: {weight: 0.2}}\n',
  task_arithmetic:
    'merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 0.7}}\n  - {model: e2, parameters: {weight: [0.2, 1.0]}}\n  - {model: e3, parameters: {weight: 0.5}}\nparameters: {lambda: 0.9}\n',
  ties: 'merge_method: ties\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 1, density: 0.2}}\n  - {model: e2, parameters: {weight: 0.8, density: 0.3}}\n  - {model: e3, parameters: {weight: -0.5, density: 0.2}}\n',
  dare_linear:
    'merge_method: dare_linear\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 1, density: 0.2}}\n  - {model: e2, parameters: {weight: 1, density: 0.5}}\n  - {model: e3, parameters: {weight: 1, density: 0.2}}\nseed: 7\n',
  dare_ties:
    'merge_method: dare_ties\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 1, density: 0.2}}\n  - {model: e2, parameters: {weight: 1, density: 0.2}}\n  - {model: e3, parameters: {weight: 1, density: 0.2}}\n',
  slerp:
    'merge_method: slerp\nbase_model: base\nmodels:\n  - {model: base}\n  - {model: e1}\nparameters:\n  t:\n    - {filter: self_attn, value: [0, 0.5, 0.3]}\n    - {value: 0.6}\n',
  model_stock: 'merge_method: model_stock\nbase_model: base\nmodels:\n  - {model: e1}\n  - {model: e2}\n  - {model: e3}\n',
  breadcrumbs_ties:
    'merge_method: breadcrumbs_ties\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 1, density: 0.4, gamma: 0.02}}\n  - {model: e2, parameters: {weight: 1, density: 0.4, gamma: 0.02}}\n',
  della:
    'merge_method: della\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 1, density: 0.5}}\n  - {model: e2, parameters: {weight: 1, density: 0.5}}\nseed: 3\n',
  sce: 'merge_method: sce\nbase_model: base\nmodels:\n  - {model: e1}\n  - {model: e2}\n  - {model: e3}\nparameters: {select_topk: 0.3}\n',
  nuslerp:
    'merge_method: nuslerp\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 1}}\n  - {model: e2, parameters: {weight: 2}}\nparameters: {nuslerp_flatten: false}\n',
  karcher: 'merge_method: karcher\nmodels:\n  - {model: e1}\n  - {model: e2}\n  - {model: e3}\n',
  arcee_fusion: 'merge_method: arcee_fusion\nbase_model: base\nmodels:\n  - {model: e1}\n',
};

beforeAll(async () => {
  for (let e = 0; e < 4; e++) await writeSyntheticModel(join(dir, e === 0 ? 'base' : `e${e}`), SHAPE, e);
  for (const [name, text] of Object.entries(recipes)) writeFileSync(join(dir, `${name}.yaml`), text);
}, 120_000);

async function merge(name: string, out: string, opts: { workers: number; sliceBytes?: number }): Promise<string> {
  await mergeRecipeFile(join(dir, `${name}.yaml`), { out: join(dir, out), overwrite: true, fsync: false, ...opts });
  return sha256File(join(dir, out, 'model.safetensors'));
}

describe('deterministic output bytes', () => {
  for (const name of Object.keys(recipes)) {
    it(`${name}: one worker with the default slices, two workers with 1 MiB slices`, async () => {
      const a = await merge(name, `${name}-w1`, { workers: 1 });
      const c = await merge(name, `${name}-s1`, { workers: 2, sliceBytes: 2 ** 20 });
      expect(c).toBe(a);
      const manifest = JSON.parse(readFileSync(join(dir, `${name}-w1`, 'tessera-manifest.json'), 'utf8')) as { files: { path: string; sha256: string }[] };
      expect(manifest.files.find((f) => f.path === 'model.safetensors')?.sha256).toBe(a);
    });
  }

  it('a 1-D tensor longer than a block is one row for row-local operators: the same bytes for any slice size', async () => {
    const odd = join(dir, 'one-d');
    const shapes = [
      { name: 'model.norm.weight', shape: [2 ** 20 + 8] },
      { name: 'lm_head.weight', shape: [128, 1024] },
    ];
    for (let e = 0; e < 3; e++) await writeSyntheticTensors(join(odd, e === 0 ? 'base' : `e${e}`), shapes, e, 5, { model_type: 'llama', num_hidden_layers: 1 });
    const row = {
      model_stock: 'merge_method: model_stock\nbase_model: base\nmodels:\n  - {model: e1}\n  - {model: e2}\nparameters: {filter_wise: true}\n',
      della:
        'merge_method: della\nbase_model: base\nmodels:\n  - {model: e1, parameters: {weight: 1, density: 0.5}}\n  - {model: e2, parameters: {weight: 1, density: 0.5}}\n',
      arcee_fusion: 'merge_method: arcee_fusion\nbase_model: base\nmodels:\n  - {model: e1}\n',
    };
    for (const [name, text] of Object.entries(row)) {
      writeFileSync(join(odd, `${name}.yaml`), text);
      const plan = await planRecipe(loadRecipe(join(odd, `${name}.yaml`))[0]!, { sliceBytes: 2 ** 20 });
      expect(plan.tensors.find((t) => t.name === 'model.norm.weight')!.context.slices, name).toHaveLength(1);
      const hashes = [];
      for (const sliceBytes of [undefined, 2 ** 20]) {
        const out = join(odd, `${name}-${sliceBytes ?? 'default'}`);
        await mergeRecipeFile(join(odd, `${name}.yaml`), { out, fsync: false, workers: 2, ...(sliceBytes ? { sliceBytes } : {}) });
        hashes.push(await sha256File(join(out, 'model.safetensors')));
      }
      expect(hashes[1], name).toBe(hashes[0]);
    }
  });

  it('a merge task run again writes the same bytes (idempotent redelivery)', async () => {
    const out = join(dir, 'dare_ties-w1');
    const before = await sha256File(join(out, 'model.safetensors'));
    const plan = await planRecipe(loadRecipe(join(dir, 'dare_ties.yaml'))[0]!, { sliceBytes: 2 ** 20 });
    const runner = new TaskRunner();
    const t = plan.tensors.find((x) => x.context.slices.length > 1)!;
    const program = t.operator.program(t.context);
    for (let pass = program.nextStats(); pass; pass = program.nextStats()) {
      const results = [];
      for (let i = 0; i < t.context.slices.length; i++) results.push(await runner.run(statsTask(t, 0, i, pass(i))));
      program.reduce(results.map((r) => (r.kind === 'stats' ? r.stats : expect.unreachable())));
    }
    for (let i = 0; i < t.context.slices.length; i++) await runner.run(mergeTask(t, i, program.merge(i), out));
    await runner.close();
    expect(await sha256File(join(out, 'model.safetensors'))).toBe(before);
  });
});
