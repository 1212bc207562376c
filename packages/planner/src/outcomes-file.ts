// Outcomes as an Arrow IPC file: one row per (pair, candidate) with the pair's features, the
// accuracies and the normalised score. Written under a temporary name and renamed.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { ModelError } from '@tessera/model/errors';
import { Table, Utf8, makeVector, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';
import type { OutcomeRow } from './collect.js';
import { FEATURES, type Features } from './features.js';

const TEXT = ['a', 'b', 'taskA', 'taskB', 'candidate'] as const;
const NUMBERS = ['accA', 'accB', 'ownA', 'ownB', 'score'] as const;
const column = (n: string) => n.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export async function writeOutcomes(path: string, rows: readonly OutcomeRow[]): Promise<void> {
  const table = new Table({
    ...Object.fromEntries(
      TEXT.map((k) => [
        column(k),
        vectorFromArray(
          rows.map((r) => r[k]),
          new Utf8(),
        ),
      ]),
    ),
    ...Object.fromEntries(NUMBERS.map((k) => [column(k), makeVector(Float64Array.from(rows, (r) => r[k]))])),
    ...Object.fromEntries(FEATURES.map((f) => [`f_${f}`, makeVector(Float64Array.from(rows, (r) => r.features[f]))])),
  });
  table.schema.metadata.set('tessera.kind', 'merge-outcomes');
  table.schema.metadata.set('tessera.features', JSON.stringify(FEATURES));
  await writeFile(`${path}.tmp`, tableToIPC(table, 'file'));
  await rename(`${path}.tmp`, path);
}

/** Reads an outcomes file; anything else (or a damaged one) is one clear error naming the file. */
export async function readOutcomes(path: string): Promise<OutcomeRow[]> {
  let table: Table;
  try {
    table = tableFromIPC(await readFile(path));
  } catch (e) {
    throw new ModelError(path, `not an Arrow IPC file of merge outcomes (${(e as Error).message.split('\n')[0]})`);
  }
  if (table.schema.metadata.get('tessera.kind') !== 'merge-outcomes')
    throw new ModelError(path, 'not a merge outcomes file (written by tessera planner collect)');
  const missing = [...TEXT.map(column), ...NUMBERS.map(column), ...FEATURES.map((f) => `f_${f}`)].filter((c) => !table.getChild(c));
  if (missing.length > 0) throw new ModelError(path, `columns missing: ${missing.join(', ')}`);
  const rows: OutcomeRow[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const r = table.get(i)!.toJSON() as Record<string, unknown>;
    const features = Object.fromEntries(FEATURES.map((f) => [f, r[`f_${f}`] as number])) as Features;
    rows.push({
      ...(Object.fromEntries(TEXT.map((k) => [k, r[column(k)] as string])) as Pick<OutcomeRow, (typeof TEXT)[number]>),
      ...(Object.fromEntries(NUMBERS.map((k) => [k, r[column(k)] as number])) as Pick<OutcomeRow, (typeof NUMBERS)[number]>),
      features,
    });
  }
  return rows;
}
