// Probe representations as an Arrow IPC file: one row per (kind, sequence, layer, head) with its
// values — mean hidden state per layer, last-token attention per layer and head, next-token
// distribution — for a planner to compare models on the same probes.
import { readFile, writeFile } from 'node:fs/promises';
import { Field, Float32, List, Table, Utf8, makeData, makeVector, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';
import type { ProbeRow } from './activations.js';
import { ModelError } from './errors.js';

export async function writeProbes(path: string, rows: readonly ProbeRow[], meta: Record<string, string>): Promise<void> {
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => {
    offsets[i + 1] = offsets[i]! + r.values.length;
  });
  const flat = new Float32Array(offsets[rows.length]!);
  rows.forEach((r, i) => flat.set(r.values, offsets[i]!));
  const child = makeData({ type: new Float32(), length: flat.length, data: flat });
  const table = new Table({
    kind: vectorFromArray(
      rows.map((r) => r.kind),
      new Utf8(),
    ),
    sequence: makeVector(Int32Array.from(rows, (r) => r.sequence)),
    layer: makeVector(Int32Array.from(rows, (r) => r.layer)),
    head: makeVector(Int32Array.from(rows, (r) => r.head)),
    values: makeVector(makeData({ type: new List(new Field('item', new Float32(), false)), length: rows.length, nullCount: 0, valueOffsets: offsets, child })),
  });
  table.schema.metadata.set('tessera.kind', 'probe-representations');
  for (const [k, v] of Object.entries(meta)) table.schema.metadata.set(`tessera.${k}`, v);
  await writeFile(path, tableToIPC(table, 'file'));
}

export async function readProbes(path: string): Promise<ProbeRow[]> {
  const table = tableFromIPC(await readFile(path));
  if (table.schema.metadata.get('tessera.kind') !== 'probe-representations')
    throw new ModelError(path, 'not a probe representations file (written by tessera probe)');
  const col = (n: string) => table.getChild(n)!;
  return Array.from({ length: table.numRows }, (_, i) => ({
    kind: col('kind').get(i) as ProbeRow['kind'],
    sequence: col('sequence').get(i) as number,
    layer: col('layer').get(i) as number,
    head: col('head').get(i) as number,
    values: Array.from((col('values').get(i) as { toArray(): Float32Array }).toArray()),
  }));
}
