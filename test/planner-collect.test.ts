// Outcome collection: merges of a catalog's pairs with candidates, scored as the zoo scores
// them, resumable after a kill, and refusing bad catalogs and outcome files with one clear error.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedExecutor } from '@tessera/engine';
import { ModelError } from '@tessera/model/errors';
import { CANDIDATES, collectOutcomes, loadCatalog, readOutcomes, writeOutcomes } from '@tessera/planner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { tempDir } from './support/tmp.js';
import { ZOO } from './support/vocab-fixtures.js';

const dir = tempDir('collect');
const catalogFile = join(dir, 'catalog.yaml');
const picked = CANDIDATES.filter((c) => ['ta_1.0', 'ties_0.2_1.0', 'keep_a'].includes(c.name));
let exec: EmbeddedExecutor;

beforeAll(() => {
  exec = new EmbeddedExecutor(2);
  writeFileSync(
    catalogFile,
    `base: ${ZOO}base\neval: ${ZOO}eval\nexperts:\n  - {name: add, path: ${ZOO}add, task: add}\n  - {name: rev, path: ${ZOO}rev, task: rev}\n  - {name: add-lite, path: ${ZOO}add-lite, task: add}\npairs: [[add, rev]]\n`,
  );
});
afterAll(() => exec.close());

/** The zoo's published accuracies of the add+rev merges (results_pairs.csv), as the score formula gives them. */
function published(op: string): number {
  const rows = readFileSync(join(ZOO, 'results_pairs.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
  const r = rows.filter(([a, b, o]) => a === 'add' && b === 'rev' && o === op);
  return r.reduce((s, x) => s + Number(x[4]) / Number(x[5]), 0) / 2;
}

describe('outcome collection', () => {
  it('scores merges as the zoo measured them, and keeping one expert from its own evaluations', async () => {
    const out = join(dir, 'one.arrow');
    const rows = await collectOutcomes(loadCatalog(catalogFile), { executor: exec, out, workDir: join(dir, 'work'), candidates: picked });
    expect(rows.map((r) => r.candidate)).toEqual(['ta_1.0', 'ties_0.2_1.0', 'keep_a']);
    const byName = new Map(rows.map((r) => [r.candidate, r]));
    // within one example (of 200) per task of the published accuracies
    expect(Math.abs(byName.get('ta_1.0')!.score - published('ta_1.0'))).toBeLessThanOrEqual(1 / 200);
    expect(Math.abs(byName.get('ties_0.2_1.0')!.score - published('ties_0.2'))).toBeLessThanOrEqual(1 / 200);
    const keep = byName.get('keep_a')!;
    expect(keep.accA).toBe(keep.ownA);
    expect(Math.abs(keep.ownA - 0.985)).toBeLessThanOrEqual(1 / 200);
    expect(keep.score).toBeCloseTo((1 + keep.accB / keep.ownB) / 2, 12);
    expect(rows.every((r) => Number.isFinite(r.features.cos) && r.features.ties_conflict > 0)).toBe(true);
    await writeOutcomes(out, rows);
    expect(await readOutcomes(out)).toEqual(rows);
  });

  it('collects steps of k-way plans: two experts merged once, as the zoo measured that merge, then merged with an expert of a third task', async () => {
    const file = join(dir, 'steps.yaml');
    writeFileSync(
      file,
      `base: ${ZOO}base\neval: ${ZOO}eval\nexperts:\n${['add', 'rev', 'sort'].map((e) => `  - {name: ${e}, path: ${ZOO}${e}, task: ${e}}\n`).join('')}pairs: [[add, rev]]\nsteps: {size: 1, seed: 1}\n`,
    );
    const catalog = loadCatalog(file);
    expect(catalog.steps).toHaveLength(1);
    const step = catalog.steps[0]!;
    expect(step.candidate).toBe('ta_1.0');
    expect(new Set([...step.from, step.add]).size).toBe(3);
    const keep = CANDIDATES.filter((c) => c.name === 'keep_a');
    const rows = await collectOutcomes(catalog, { executor: exec, out: join(dir, 'steps.arrow'), workDir: join(dir, 'work-steps'), candidates: keep });
    const r = rows.find((x) => x.a.includes('+'))!;
    const [x, y] = step.from.map((i) => catalog.experts[i]!.name);
    expect(r.a).toBe(`${x}+${y}`);
    expect(r.taskA).toBe(`${x}+${y}`);
    // the running result is the ta_1.0 merge of x and y: its accuracy on their tasks is the zoo's
    const pairs = readFileSync(join(ZOO, 'results_pairs.csv'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(','))
      .filter(([a, b, op]) => [a, b].sort().join() === [x, y].sort().join() && op === 'ta_1.0');
    expect(pairs).toHaveLength(2);
    const want = pairs.reduce((sum, p) => sum + Number(p[4]), 0) / 2;
    expect(Math.abs(r.ownA - want)).toBeLessThanOrEqual(1 / 200);
    expect(r.accA).toBe(r.ownA);
    expect(r.score).toBeCloseTo((1 + r.accB / r.ownB) / 2, 12);
  });

  it('resumes a collect that was stopped: finished outcomes are not merged again', async () => {
    const out = join(dir, 'resume.arrow');
    const ctrl = new AbortController();
    await expect(
      collectOutcomes(loadCatalog(catalogFile), {
        executor: exec,
        out,
        workDir: join(dir, 'work2'),
        candidates: picked,
        concurrency: 1,
        signal: ctrl.signal,
        onRow: (_r, done) => {
          if (done === 1) ctrl.abort(new Error('stopped'));
        },
      }),
    ).rejects.toThrow();
    const before = readFileSync(`${out}.progress.jsonl`, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"outcome"'));
    expect(before).toHaveLength(1);
    const rows = await collectOutcomes(loadCatalog(catalogFile), { executor: exec, out, workDir: join(dir, 'work2'), candidates: picked });
    expect(rows).toHaveLength(3);
    const after = readFileSync(`${out}.progress.jsonl`, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"outcome"'));
    expect(after).toHaveLength(3);
    expect(after[0]).toBe(before[0]);
  });

  it('adds included pairs once after the sampled ones, and takes several step samples, each among its own experts', () => {
    const tasks = ['add', 'rev', 'sort', 'up', 'dup'];
    const file = join(dir, 'include.yaml');
    writeFileSync(
      file,
      `base: ${ZOO}base\neval: ${ZOO}eval\nexperts:\n${tasks.map((t) => `  - {name: ${t}, path: ${ZOO}${t}, task: ${t}}\n`).join('')}` +
        'pairs: [[add, rev], [sort, up]]\ninclude: [[rev, add], [up, dup], [dup, up]]\n' +
        'steps:\n  - {size: 100, seed: 1, experts: [add, rev, sort]}\n  - {size: 100, seed: 2, experts: [add, rev, sort, up]}\n',
    );
    const c = loadCatalog(file);
    const name = (i: number) => tasks[i];
    expect(c.pairs.map(([a, b]) => `${name(a)}+${name(b)}`)).toEqual(['add+rev', 'sort+up', 'up+dup']);
    // three experts: their three pairs, each merged with the third; four: 6 pairs x 2 others, the first three again
    const steps = c.steps.map((s) => `${s.from.map(name).join('+')}/${name(s.add)}`);
    expect(steps).toHaveLength(12);
    expect(new Set(steps).size).toBe(12);
    expect(steps.slice(0, 3).sort()).toEqual(['add+rev/sort', 'add+sort/rev', 'rev+sort/add']);
    expect(steps.every((s) => !s.includes('dup'))).toBe(true);
    writeFileSync(join(dir, 'unknown.yaml'), readFileSync(catalogFile, 'utf8') + 'include: [[add, mul]]\n');
    expect(() => loadCatalog(join(dir, 'unknown.yaml'))).toThrow(/unknown\.yaml: include\.0: unknown expert mul/);
  });

  it('refuses an empty catalog and a damaged outcome file with one clear error (exit 2)', async () => {
    writeFileSync(join(dir, 'empty.yaml'), `base: ${ZOO}base\neval: ${ZOO}eval\nexperts: []\n`);
    const r = await tessera(['planner', 'collect', join(dir, 'empty.yaml'), '--out', join(dir, 'x.arrow')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/empty\.yaml: experts: a catalog needs at least two experts, got 0/);
    writeFileSync(join(dir, 'slerp-steps.yaml'), readFileSync(catalogFile, 'utf8') + 'steps: {size: 2, seed: 1, candidate: slerp_0.5}\n');
    expect(() => loadCatalog(join(dir, 'slerp-steps.yaml'))).toThrow(
      /slerp-steps\.yaml: steps\.candidate: "slerp_0\.5" is not a candidate that merges experts/,
    );
    writeFileSync(join(dir, 'bad.arrow'), 'ARROW1 but not really');
    await expect(readOutcomes(join(dir, 'bad.arrow'))).rejects.toThrow(ModelError);
    await expect(readOutcomes(join(dir, 'bad.arrow'))).rejects.toThrow(/bad\.arrow: not an Arrow IPC file of merge outcomes/);
  });
});
