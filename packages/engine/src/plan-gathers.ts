// A changed vocabulary: work files for the re-indexed embedding matrices, the gather tasks that
// fill them, and the tensors' inputs pointed at them.
import { type TensorLocation, planOutput } from '@tessera/checkpoint';
import type { GatherTask } from '@tessera/protocol/task';
import { type FloatDtype, itemSize } from '@tessera/tensor';
import { MergeInputError } from './errors.js';
import type { JobPlan, PlanOptions, TensorPlan } from './plan.js';
import type { RowSource } from './vocab.js';

/** One embedding matrix of one input to re-index: its output rows' sources. */
export interface Gather {
  tensor: number;
  input: number;
  sources: RowSource[];
  src: { dir: string; loc: TensorLocation }[];
  dtype: FloatDtype;
  cols: number;
}

const GATHER_BYTES = 32 << 20;

/** Work files for the re-indexed embeddings, gather tasks filling them, and the inputs pointed at them. */
export function planGathers(gathers: Gather[], tensors: Omit<TensorPlan, 'outFile' | 'outOffset'>[], opts: PlanOptions): JobPlan['work'] {
  if (!opts.workDir) throw new MergeInputError('vocabulary handling needs a work folder');
  const dir = opts.workDir;
  const layout = planOutput(
    gathers.map((g, i) => ({ name: `${i}`, dtype: g.dtype, shape: [tensors[g.tensor]!.shape[0]!, g.cols] })),
    Number.MAX_SAFE_INTEGER,
  );
  const file = layout.files[0]!;
  const tasks: GatherTask[] = [];
  gathers.forEach((g, i) => {
    const placed = file.tensors[i]!;
    const rowBytes = g.cols * itemSize(g.dtype);
    tensors[g.tensor]!.inputs[g.input] = { uri: `${dir}/${file.name}`, offset: placed.offset, dtype: g.dtype };
    const index = new Map(g.src.map((s, k) => [s.dir, k]));
    const sources = g.src.map((s) => ({ uri: s.loc.file, offset: s.loc.offset, dtype: s.loc.dtype as FloatDtype, rows: s.loc.shape[0]! }));
    // bounded in bytes, and in rows so that a task descriptor stays well under NATS's 1 MiB
    const per = Math.max(1, Math.min(8192, Math.floor(GATHER_BYTES / rowBytes)));
    for (let r0 = 0; r0 < g.sources.length; r0 += per) {
      const plan: number[] = [];
      for (const src of g.sources.slice(r0, r0 + per)) {
        if ('all' in src) plan.push(-1, index.get(src.all)!, 0);
        else {
          plan.push(src.length);
          for (const s of src) plan.push(index.get(s.dir)!, s.row);
        }
      }
      tasks.push({
        kind: 'gather',
        id: `g${i}/${r0}`,
        sources,
        cols: g.cols,
        rows: Math.min(per, g.sources.length - r0),
        plan,
        out: { uri: `${dir}/${file.name}`, offset: placed.offset + r0 * rowBytes, dtype: g.dtype },
      });
    }
  });
  return { dir, layout, gathers: tasks };
}
