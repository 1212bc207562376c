// AIM on zoo merges, scored: the merges without AIM reproduce the zoo's published pair
// accuracies (results_pairs.csv), and ω = 1 scores exactly as without AIM. The full table (more
// pairs, the all-experts merge, a sweep of ω) is in npm run bench.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { aimStudy } from './support/aim-study.js';
import { tempDir } from './support/tmp.js';
import { ZOO } from './support/vocab-fixtures.js';

const published = new Map(
  readFileSync(join(ZOO, 'results_pairs.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => {
      const [a, b, op, task, acc] = l.split(',');
      return [`${[a, b].sort().join('+')}/${op}/${task}`, Number(acc)] as const;
    }),
);

it('scores pair merges with and without AIM', async () => {
  const rows = await aimStudy(
    ZOO,
    tempDir('aim-study'),
    [
      ['up', 'rev'],
      ['sort', 'max'],
    ],
    ['ta_1.0', 'ties_0.2'],
    [1],
  );
  expect(rows).toHaveLength(2 * 2 * 2);
  for (const r of rows.filter((x) => x.omega === null)) {
    for (const [task, acc] of Object.entries(r.accuracy)) {
      const want = published.get(`${[...r.experts].sort().join('+')}/${r.op}/${task}`)!;
      expect(Math.abs(acc - want) * 200, `${r.experts.join('+')} ${r.op} on ${task}`).toBeLessThanOrEqual(1 + 1e-9);
    }
    const same = rows.find((x) => x.experts === r.experts && x.op === r.op && x.omega === 1)!;
    expect(same.accuracy).toEqual(r.accuracy);
  }
}, 180_000);
