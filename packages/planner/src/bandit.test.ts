// The contextual bandit on a synthetic stream where the best candidate depends on the context.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Bandit, loadBandit, saveBandit } from './bandit.js';
import { simulateStream } from './bandit-sim.js';
import type { Dataset } from './dataset.js';

// three candidates: 'low' wins when x0 < 0, 'high' when x0 > 0.5, 'mid' in between
function dataset(): Dataset {
  const examples = Array.from({ length: 60 }, (_, i) => {
    const x0 = -1 + (2 * i) / 59;
    const y = [x0 < 0 ? 0.9 : 0.2, x0 >= 0 && x0 <= 0.5 ? 0.8 : 0.3, x0 > 0.5 ? 0.95 : 0.1];
    return { a: `a${i}`, b: `b${i}`, tasks: ['t', 'u'] as [string, string], x: [x0, x0 * x0], y, sides: [y, y] as [number[], number[]] };
  });
  return { features: ['x0', 'x0sq'], candidates: ['low', 'mid', 'high'], examples };
}

describe('contextual bandit', () => {
  it('has less cumulative regret than uniform random choice and adopts a candidate added mid-stream where it wins', () => {
    const r = simulateStream(dataset(), { steps: 3000, newcomer: 'high' });
    expect(r.bandit).toBeLessThan(0.5 * r.random);
    expect(r.newcomer.chosenWhereBest).toBeGreaterThan(0.5 * r.newcomer.bestAfterAdded);
    expect(r.newcomer.chosenElsewhere).toBeLessThan(0.2 * (r.newcomer.stepsAfterAdded - r.newcomer.bestAfterAdded));
  });

  it('keeps its state across a save and a load', async () => {
    const d = dataset();
    const b = Bandit.create(
      d.candidates,
      d.examples.map((e) => e.x),
    );
    for (const e of d.examples) b.report(e.x, 'mid', e.y[1]!);
    const path = join(mkdtempSync(join(tmpdir(), 'tessera-bandit-')), 'bandit.json');
    await saveBandit(path, b);
    const again = await loadBandit(path);
    expect(again.scores([0.3, 0.09])).toEqual(b.scores([0.3, 0.09]));
    expect(again.state.arms.mid!.pulls).toBe(60);
  });
});
