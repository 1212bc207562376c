// tessera plan: the predicted best candidate of a pair, written as a recipe that tessera merge
// runs as it is; keeping one expert is a one-model passthrough recipe.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
    writeFileSync(
      byHand,
      `merge_method: task_arithmetic\nbase_model: ${join(ZOO, 'base')}\nmodels:\n  - {model: ${join(ZOO, 'add')}, parameters: {weight: 1}}\n  - {model: ${join(ZOO, 'rev')}, parameters: {weight: 1}}\nparameters: {lambda: 1.0}\ndtype: bfloat16\n`,
    );
    expect((await tessera(['merge', byHand, '--out', join(dir, 'by-hand'), '--no-fsync'])).code).toBe(0);
    expect(await sha256File(join(dir, 'ta-out', 'model.safetensors'))).toBe(await sha256File(join(dir, 'by-hand', 'model.safetensors')));
  });

  it('gives a predictor that reads functional features the signals on the shipped probes, the same as tessera planner signals computes', async () => {
    const features = [...FEATURES, 'top1_agreement'];
    const path = join(dir, 'functional.onnx');
    await writePredictor(
      path,
      {
        kind: 'ridge',
        mean: features.map(() => 0),
        std: features.map(() => 1),
        // ta_1.0's score is the top-1 agreement itself
        weights: names.map((n) => features.map((f) => (n === 'ta_1.0' && f === 'top1_agreement' ? 1 : 0))),
        bias: names.map((n) => (n === 'ta_1.0' ? 0 : -1)),
      },
      { candidates: names, features },
    );
    const r = await tessera(['plan', join(ZOO, 'base'), join(ZOO, 'add'), join(ZOO, 'rev'), '--predictor', path, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { predictions: { candidate: string; score: number }[]; features: Record<string, number> };
    const signals = await tessera([
      'planner',
      'signals',
      join(ZOO, 'base'),
      join(ZOO, 'add'),
      join(ZOO, 'rev'),
      '--out',
      join(dir, 's.arrow'),
      '--probes',
      'default',
      '--json',
    ]);
    expect(signals.code, signals.stderr).toBe(0);
    const top1 = (JSON.parse(signals.stdout) as { functional: { signals: { top1Agreement: number } }[] }).functional[0]!.signals.top1Agreement;
    expect(top1).toBeGreaterThan(0);
    expect(plan.features.top1_agreement).toBe(top1);
    expect(plan.predictions.find((p) => p.candidate === 'ta_1.0')!.score).toBeCloseTo(top1, 5);
    // more than two experts: the running results cannot be probed, so such a predictor is refused
    const many = await tessera(['plan', join(ZOO, 'base'), join(ZOO, 'add'), join(ZOO, 'rev'), join(ZOO, 'up'), '--predictor', path]);
    expect(many.code).toBe(2);
    expect(many.stderr).toMatch(/functional\.onnx: reads features a plan of more than two experts cannot give its running results \(top1_agreement\)/);
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

  it('plans the 8 public v1 experts (subset, order, operators) into a multi-document recipe that scores at least twice the best fixed merge of all 8', async () => {
    const catalog = join(dir, 'v1.yaml');
    const v1 = ['add', 'rev', 'sort', 'up', 'dup', 'vow', 'max', 'swap'];
    writeFileSync(catalog, `base: ${ZOO}base\neval: ${ZOO}eval\nexperts:\n${v1.map((e) => `  - {name: ${e}, path: ${ZOO}${e}, task: ${e}}\n`).join('')}`);
    const r = await tessera(['planner', 'compare', catalog, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { plan, rows, tasks } = JSON.parse(r.stdout) as {
      plan: { used: string[]; steps: { candidate: string }[]; recipe: string };
      rows: { name: string; accuracy: number[]; mean: number }[];
      tasks: string[];
    };
    expect(tasks).toEqual(v1);
    expect(plan.steps.length).toBeGreaterThan(0);
    expect(plan.used.length).toBe(plan.steps.length + 1);
    expect(plan.recipe.split('\n---\n')).toHaveLength(plan.steps.length);
    const mean = rows.find((x) => x.name === 'plan')!.mean;
    // every fixed candidate that merges any number of experts (all but SLERP), each merging all 8
    const fixed = rows.filter((x) => x.name !== 'plan' && x.name !== 'base');
    expect(fixed.map((x) => x.name).sort()).toEqual(
      CANDIDATES.filter((c) => c.recipe && !c.pair)
        .map((c) => c.name)
        .sort(),
    );
    // the zoo's own measurement of two of them (results_merge_all.csv)
    const zoo = readFileSync(join(ZOO, 'results_merge_all.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    for (const [op, name] of [
      ['linear', 'linear'],
      ['ta_1.0', 'ta_1.0'],
      ['ties_0.2', 'ties_0.2_1.0'],
    ] as const) {
      const want = zoo.filter((x) => x[1] === op).reduce((sum, x) => sum + Number(x[3]), 0) / 8;
      expect(Math.abs(fixed.find((x) => x.name === name)!.mean - want), name).toBeLessThanOrEqual(1 / 200);
    }
    const best = Math.max(...fixed.map((x) => x.mean));
    expect(mean).toBeGreaterThanOrEqual(2 * best);
  });

  it('plans all 32 public experts (data/zoo-catalog.yaml) into a merge that scores at least twice the best fixed merge of all 32', async () => {
    const r = await tessera(['planner', 'compare', fileURLToPath(new URL('../data/zoo-catalog.yaml', import.meta.url)), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { plan, rows, tasks } = JSON.parse(r.stdout) as { plan: { used: string[] }; rows: { name: string; mean: number }[]; tasks: string[] };
    expect(tasks).toHaveLength(8);
    expect(plan.used.length).toBeGreaterThan(1);
    const fixed = rows.filter((x) => x.name !== 'plan' && x.name !== 'base');
    expect(fixed).toHaveLength(CANDIDATES.filter((c) => c.recipe && !c.pair).length);
    expect(rows.find((x) => x.name === 'plan')!.mean).toBeGreaterThanOrEqual(2 * Math.max(...fixed.map((x) => x.mean)));
  }, 180_000);

  it('follows an objective: an expert whose ability does not count is the one left out (the shipped predictor)', async () => {
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
    writeFileSync(join(dir, 'junk.onnx'), 'not a model');
    const junk = await tessera(['plan', join(ZOO, 'base'), join(ZOO, 'add'), join(ZOO, 'rev'), '--predictor', join(dir, 'junk.onnx')]);
    expect(junk.code).toBe(2);
    expect(junk.stderr).toMatch(/junk\.onnx: not a readable ONNX predictor/);
    const other = await tessera(['plan', join(ZOO, 'base'), join(ZOO, 'add'), 'synthetic://llama-tiny?model=1', '--predictor', ta]);
    expect(other.code).toBe(2);
    expect(other.stderr.trim().split('\n')).toHaveLength(1);
  });
});
