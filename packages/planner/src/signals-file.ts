// Pair signals as an Arrow IPC file: one row per (scope, pair): the whole model ('global'), each
// decoder layer ('layer', name = its index) and each tensor ('tensor', name = the tensor).
import { readFile, writeFile } from 'node:fs/promises';
import { Table, Utf8, makeVector, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';
import { type PairSignals, pairSignals, sums } from './signals.js';
import type { StructuralStats } from './structural.js';

export interface SignalRow extends PairSignals {
  scope: 'global' | 'layer' | 'tensor';
  name: string;
  a: number;
  b: number;
}

const NUMBERS = ['cos', 'normA', 'normB', 'normRatio', 'relA', 'relB', 'signAgreement', 'tiesConflict', 'weightCos'] as const;
const column = (n: string) => n.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Every pair's signals over the whole model, each layer and each tensor. */
function signalRows(stats: StructuralStats): SignalRow[] {
  const k = stats.models.length;
  const scopes: { scope: SignalRow['scope']; name: string; s: ReturnType<typeof sums> }[] = [{ scope: 'global', name: '', s: sums(stats) }];
  const layers = [...new Set(stats.tensors.map((t) => t.layer).filter((l): l is number => l !== undefined))].sort((x, y) => x - y);
  for (const l of layers) scopes.push({ scope: 'layer', name: String(l), s: sums(stats, (t) => t.layer === l) });
  for (const t of stats.tensors) scopes.push({ scope: 'tensor', name: t.name, s: sums(stats, (x) => x === t) });
  const rows: SignalRow[] = [];
  for (const { scope, name, s } of scopes)
    for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++) rows.push({ scope, name, a, b, ...pairSignals(s, a, b) });
  return rows;
}

export async function writeSignals(path: string, stats: StructuralStats): Promise<SignalRow[]> {
  const rows = signalRows(stats);
  const table = new Table({
    scope: vectorFromArray(
      rows.map((r) => r.scope),
      new Utf8(),
    ),
    name: vectorFromArray(
      rows.map((r) => r.name),
      new Utf8(),
    ),
    a: makeVector(Int32Array.from(rows, (r) => r.a)),
    b: makeVector(Int32Array.from(rows, (r) => r.b)),
    ...Object.fromEntries(NUMBERS.map((n) => [column(n), makeVector(Float64Array.from(rows, (r) => r[n]))])),
  });
  table.schema.metadata.set('tessera.kind', 'pair-signals');
  table.schema.metadata.set('tessera.base', stats.base);
  table.schema.metadata.set('tessera.models', JSON.stringify(stats.models));
  table.schema.metadata.set('tessera.density', String(stats.density));
  await writeFile(path, tableToIPC(table, 'file'));
  return rows;
}

export async function readSignals(path: string): Promise<{ base: string; models: string[]; rows: SignalRow[] }> {
  const table = tableFromIPC(await readFile(path));
  if (table.schema.metadata.get('tessera.kind') !== 'pair-signals') throw new Error(`${path}: not a pair signals file`);
  const rows: SignalRow[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const row = table.get(i)!.toJSON() as Record<string, unknown>;
    rows.push({
      scope: row.scope as SignalRow['scope'],
      name: row.name as string,
      a: row.a as number,
      b: row.b as number,
      ...(Object.fromEntries(NUMBERS.map((n) => [n, row[column(n)] as number])) as unknown as PairSignals),
    });
  }
  return { base: table.schema.metadata.get('tessera.base') ?? '', models: JSON.parse(table.schema.metadata.get('tessera.models') ?? '[]') as string[], rows };
}
