// Activation statistics as an Arrow IPC file: one row per tensor with its input-channel sums
// a_j (sum over calibration sequences of the mean |x| over the sequence's tokens), in float64.
import { readFile, writeFile } from 'node:fs/promises';
import { Field, Float64, List, Table, Utf8, makeData, makeVector, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';
import { ModelError } from './errors.js';

export interface ActivationStats {
  /** tensor name -> a_j per input channel */
  sums: Map<string, Float64Array>;
  /** calibration sequences summed */
  sequences: number;
  /** metadata: the model and calibration set they come from */
  meta: Record<string, string>;
}

export async function writeStats(path: string, s: ActivationStats): Promise<void> {
  const names = [...s.sums.keys()];
  const lengths = names.map((n) => s.sums.get(n)!.length);
  const flat = new Float64Array(lengths.reduce((a, b) => a + b, 0));
  const offsets = new Int32Array(names.length + 1);
  names.forEach((n, i) => {
    flat.set(s.sums.get(n)!, offsets[i]!);
    offsets[i + 1] = offsets[i]! + lengths[i]!;
  });
  const child = makeData({ type: new Float64(), length: flat.length, data: flat });
  const sums = makeVector(
    makeData({ type: new List(new Field('item', new Float64(), false)), length: names.length, nullCount: 0, valueOffsets: offsets, child }),
  );
  const table = new Table({
    tensor: vectorFromArray(names, new Utf8()),
    channels: makeVector(Int32Array.from(lengths)),
    sequences: makeVector(new Int32Array(names.length).fill(s.sequences)),
    mean_abs_sum: sums,
  });
  table.schema.metadata.set('tessera.kind', 'activation-stats');
  for (const [k, v] of Object.entries(s.meta)) table.schema.metadata.set(`tessera.${k}`, v);
  await writeFile(path, tableToIPC(table, 'file'));
}

export async function readStats(path: string): Promise<ActivationStats> {
  let table: Table;
  try {
    table = tableFromIPC(await readFile(path));
  } catch (e) {
    throw new ModelError(path, `not an Arrow IPC file of activation statistics (${(e as Error).message})`);
  }
  if (table.schema.metadata.get('tessera.kind') !== 'activation-stats')
    throw new ModelError(path, 'not an activation statistics file (written by tessera activations)');
  const names = table.getChild('tensor'),
    sums = table.getChild('mean_abs_sum'),
    seqs = table.getChild('sequences');
  if (!names || !sums || !seqs) throw new ModelError(path, 'missing columns tensor, sequences or mean_abs_sum');
  const out = new Map<string, Float64Array>();
  for (let i = 0; i < table.numRows; i++) {
    const v = sums.get(i) as { toArray(): Float64Array } | null;
    if (!v) throw new ModelError(path, `row ${i}: no channel sums`);
    out.set(names.get(i) as string, Float64Array.from(v.toArray()));
  }
  const meta: Record<string, string> = {};
  for (const [k, v] of table.schema.metadata) if (k.startsWith('tessera.') && k !== 'tessera.kind') meta[k.slice(8)] = v;
  return { sums: out, sequences: table.numRows ? Number(seqs.get(0)) : 0, meta };
}
