// The planner data shipped in data/: the public zoo's outcomes agree with the zoo's published
// accuracies, and the predictor trained on them beats the best fixed candidate in leave-one-task-
// out cross-validation (closing at least half of the gap to the per-pair oracle).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CANDIDATES, FEATURES, leaveOneTaskOut, openPredictor, readOutcomes, toDataset } from '@tessera/planner';
import { describe, expect, it } from 'vitest';
import { ZOO } from './support/vocab-fixtures.js';

const data = (f: string) => fileURLToPath(new URL(`../data/${f}`, import.meta.url));
const V1 = ['add', 'rev', 'sort', 'up', 'dup', 'vow', 'max', 'swap'];

describe('shipped planner data', () => {
  it('the outcomes hold every candidate for each sampled pair, and agree with the published pair accuracies', async () => {
    const rows = await readOutcomes(data('zoo-outcomes.arrow'));
    const pairs = new Set(rows.map((r) => `${r.a}+${r.b}`));
    expect(pairs.size).toBe(96);
    expect(rows).toHaveLength(96 * CANDIDATES.length);
    // results_pairs.csv: expert_a,expert_b,op,task,accuracy,expert_accuracy
    const published = new Map(
      readFileSync(`${ZOO}results_pairs.csv`, 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(','))
        .map(([a, b, op, task, acc]) => [`${[a, b].sort().join('+')}/${op}/${task}`, Number(acc)] as const),
    );
    const ops: Record<string, string> = { linear: 'linear', 'ta_0.7': 'ta_0.7', 'ta_1.0': 'ta_1.0', 'ties_0.2_1.0': 'ties_0.2' };
    let compared = 0;
    for (const r of rows) {
      if (!V1.includes(r.a) || !V1.includes(r.b) || !ops[r.candidate]) continue;
      const key = (task: string) => `${[r.a, r.b].sort().join('+')}/${ops[r.candidate]}/${task}`;
      expect(Math.abs(r.accA - published.get(key(r.taskA))!), `${r.a}+${r.b} ${r.candidate}`).toBeLessThanOrEqual(1 / 200 + 1e-9);
      expect(Math.abs(r.accB - published.get(key(r.taskB))!), `${r.a}+${r.b} ${r.candidate}`).toBeLessThanOrEqual(1 / 200 + 1e-9);
      compared++;
    }
    expect(compared).toBeGreaterThan(0);
    for (const r of rows.filter((x) => x.candidate === 'keep_a')) expect(r.accA).toBe(r.ownA);
  });

  it('leave-one-task-out: the planner beats the best fixed candidate and closes at least half of the gap to the oracle', async () => {
    const d = toDataset(await readOutcomes(data('zoo-outcomes.arrow')));
    const e = leaveOneTaskOut(d, 'ridge');
    expect(e.planner).toBeGreaterThan(e.fixed);
    expect(e.gapClosure).toBeGreaterThanOrEqual(0.5);
    expect(e.oracle).toBeGreaterThanOrEqual(e.planner);
  });

  it('the shipped predictor scores the candidates from the features', async () => {
    const p = await openPredictor(data('zoo-predictor.onnx'));
    expect(p.candidates.sort()).toEqual(CANDIDATES.map((c) => c.name).sort());
    expect([...p.features]).toEqual([...FEATURES]);
    await p.close();
  });
});
