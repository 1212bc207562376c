// The AIM table: accuracy of zoo merges without AIM and with AIM at ω = 0 ... 1, for
// task_arithmetic, TIES and DARE-TIES on expert pairs and on the merge of all eight experts.
// Runs alone (npx tsx test/bench/aim-table.ts) or as a section of npm run bench.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STUDY_OPS, aimStudy } from '../support/aim-study.js';

const ZOO = fileURLToPath(new URL('../fixtures/zoo', import.meta.url));
const PAIRS = [
  ['up', 'rev'],
  ['sort', 'max'],
  ['add', 'vow'],
  ['dup', 'swap'],
];
const ALL = ['add', 'rev', 'sort', 'up', 'dup', 'vow', 'max', 'swap'];
const OMEGAS = [0, 0.2, 0.4, 0.6, 0.8, 1];

export async function aimTable(): Promise<string[]> {
  const root = mkdtempSync(join(tmpdir(), 'tessera-aim-table-'));
  try {
    const rows = await aimStudy(ZOO, root, [...PAIRS, ALL], Object.keys(STUDY_OPS), OMEGAS);
    const pct = (x: number) => (100 * x).toFixed(1);
    const out = [`| experts | operator | no AIM | ${OMEGAS.map((w) => `ω=${w}`).join(' | ')} |`, `|---|---|---|${OMEGAS.map(() => '---').join('|')}|`];
    for (const experts of [...PAIRS, ALL]) {
      for (const op of Object.keys(STUDY_OPS)) {
        const cells = [null, ...OMEGAS].map((w) => rows.find((r) => r.experts === experts && r.op === op && r.omega === w)!.accuracy);
        const label = experts === ALL ? 'all 8 (mean of 8 tasks)' : experts.join(' + ');
        const show = (a: Record<string, number>) =>
          experts === ALL ? pct(Object.values(a).reduce((s, x) => s + x, 0) / 8) : experts.map((e) => pct(a[e]!)).join(' / ');
        out.push(`| ${label} | ${op} | ${cells.map(show).join(' | ')} |`);
      }
    }
    return out;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  for (const l of await aimTable()) console.log(l);
  console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
}
