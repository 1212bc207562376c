// tessera plan: the predicted best candidate of a pair, written as a recipe that tessera merge
// runs as it is; keeping one expert is a one-model passthrough recipe.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File } from '@tessera/checkpoint';
import { CANDIDATES, FEATURES, writePredictor } from '@tessera/planner';
import { beforeAll, describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { tensorBytes } from './support/tensors.js';
import { tempDir } from './support/tmp.js';
import { ZOO } from './support/vocab-fixtures.js';

const dir = tempDir('plan');
const names = CANDIDATES.map((c) => c.name);

/** A linear predictor that ignores the features and prefers `winner`. */
async function preferring(winner: string): Promise<string> {
  const path = join(dir, `${winner}.onnx`);
  await writePredictor(
    path,
    {
      kind: 'ridge',
      mean: FEATURES.map(() => 0),
      std: FEATURES.map(() => 1),
      weights: names.map(() => FEATURES.map(() => 0)),
      bias: names.map((n) => (n === winner ? 0.9 : 0.1)),
    },
    { candidates: names, features: FEATURES },
  );
  return path;
}

let ta: string, keep: string;
beforeAll(async () => {
  ta = await preferring('ta_1.0');
  keep = await preferring('keep_b');
});

describe('tessera plan', () => {
  it('writes the recipe of the predicted best candidate, with the predictions, and tessera merge runs it', async () => {
    const out = join(dir, 'ta.yaml');
    const r = await tessera(['plan', join(ZOO, 'base'), join(ZOO, 'add'), join(ZOO, 'rev'), '--predictor', ta, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { candidate: string; predictions: { candidate: string; score: number }[]; features: Record<string, number> };
    expect(plan.candidate).toBe('ta_1.0');
    expect(plan.predictions[0]).toEqual({ candidate: 'ta_1.0', score: expect.closeTo(0.9, 5) });
    expect(plan.predictions).toHaveLength(names.length);
    expect(Object.keys(plan.features).sort()).toEqual([...FEATURES].sort());
    expect(readFileSync(out, 'utf8')).toMatch(/^# planned by tessera: ta_1.0/);
    const merged = await tessera(['merge', out, '--out', join(dir, 'ta-out'), '--no-fsync']);
    expect(merged.code, merged.stderr).toBe(0);
    // the same merge written by hand
    const byHand = join(dir, 'by-hand.yaml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      byHand,
      `merge_method: task_arithmetic\nbase_model: ${join(ZOO, 'base')}\nmodels:\n  - {model: ${join(ZOO, 'add')}, parameters: {weight: 1}}\n  - {model: ${join(ZOO, 'rev')}, parameters: {weight: 1}}\nparameters: {lambda: 1.0}\ndtype: bfloat16\n`,
    );
    expect((await tessera(['merge', byHand, '--out', join(dir, 'by-hand'), '--no-fsync'])).code).toBe(0);
    expect(await sha256File(join(dir, 'ta-out', 'model.safetensors'))).toBe(await sha256File(join(dir, 'by-hand', 'model.safetensors')));
  });

  it('keeping one expert is a passthrough recipe that reproduces that expert', async () => {
    const out = join(dir, 'keep.yaml');
    const r = await tessera(['plan', join(ZOO, 'base'), join(ZOO, 'add'), join(ZOO, 'rev'), '--predictor', keep, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/merge_method: passthrough/);
    expect((await tessera(['merge', out, '--out', join(dir, 'keep-out'), '--no-fsync'])).code).toBe(0);
    const [got, want] = [await tensorBytes(join(dir, 'keep-out')), await tensorBytes(join(ZOO, 'rev'))];
    for (const [name, t] of want) expect(Buffer.from(got.get(name)!.bytes).equals(Buffer.from(t.bytes)), name).toBe(true);
  });

  it('plans the 8 public v1 experts (subset, order, operators) into a multi-document recipe that beats every fixed all-8 merge', async () => {
    const v1 = ['add', 'rev', 'sort', 'up', 'dup', 'vow', 'max', 'swap'].map((m) => join(ZOO, m));
    const out = join(dir, 'eight.yaml');
    const r = await tessera(['plan', join(ZOO, 'base'), ...v1, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { used: string[]; steps: { candidate: string }[] };
    expect(plan.steps.length).toBeGreaterThan(0);
    expect(plan.used.length).toBe(plan.steps.length + 1);
    expect((await tessera(['merge', out, '--out', join(dir, 'eight-out'), '--no-fsync'])).code).toBe(0);
    const scored = await tessera(['eval', join(dir, 'eight-out'), '--tasks', join(ZOO, 'eval'), '--json']);
    const mean = (JSON.parse(scored.stdout.trim().split('\n').pop()!) as { mean: number }).mean;
    // results_merge_all.csv: the best fixed merge of all 8 (task arithmetic, λ 0.3) averages 17.6%
    const fixed = readFileSync(join(ZOO, 'results_merge_all.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    const byOp = new Map<string, number[]>();
    for (const [, op, , acc] of fixed) byOp.set(op!, [...(byOp.get(op!) ?? []), Number(acc)]);
    const bestFixed = Math.max(...[...byOp.values()].map((v) => v.reduce((s, x) => s + x, 0) / v.length));
    expect(bestFixed).toBeCloseTo(0.176, 3);
    expect(mean).toBeGreaterThan(bestFixed);
  });

  it('follows an objective: an expert whose ability does not count is the one left out (the shipped predictor)', async () => {
    const { writeFileSync } = await import('node:fs');
    for (const [zero, kept] of [
      ['rev', 'keep_a'],
      ['add', 'keep_b'],
    ]) {
      writeFileSync(join(dir, `objective-${zero}.yaml`), `weights: {${zero}: 0}\n`);
      const r = await tessera(['plan', join(ZOO, 'base'), join(ZOO, 'add'), join(ZOO, 'rev'), '--objective', join(dir, `objective-${zero}.yaml`), '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { candidate: string }).candidate).toBe(kept);
    }
  });

  it('refuses a predictor file that is not one, and a model of another shape, each with one clear error (exit 2)', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'junk.onnx'), 'not a model');
    const junk = await tessera(['plan', join(ZOO, 'base'), join(ZOO, 'add'), join(ZOO, 'rev'), '--predictor', join(dir, 'junk.onnx')]);
    expect(junk.code).toBe(2);
    expect(junk.stderr).toMatch(/junk\.onnx: not a readable ONNX predictor/);
    const other = await tessera(['plan', join(ZOO, 'base'), join(ZOO, 'add'), 'synthetic://llama-tiny?model=1', '--predictor', ta]);
    expect(other.code).toBe(2);
    expect(other.stderr.trim().split('\n')).toHaveLength(1);
  });
});
