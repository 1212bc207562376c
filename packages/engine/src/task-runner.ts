// Runs one task on the current thread: reads the slice of every input straight into the kernel
// memory, runs the kernel, writes the output straight from it at its final position. Slices of
// local inputs go stripe by stripe (read, merge, write while the stripe is in the caches).
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { isNullSink } from './null-sink.js';
import { OutputWriter, type RangeSource, openSource, sha256File, writeAt } from '@tessera/checkpoint';
import {
  type BlockScales,
  KernelRuntime,
  type SliceLayout,
  type StripeReader,
  blockRowsOf,
  decode,
  encode,
  itemSize,
  mergeStripes,
  quantizeBlocks,
  statsStripes,
  stripeOf,
} from '@tessera/tensor';
import { aimBytes, runAim } from './aim-task.js';
import type { GatherTask, MergeTask, StatsTask, Task, TaskResult, TensorScale } from '@tessera/protocol/task';

const MAX_OPEN = 64;

/** Per-thread state: the kernel instance and open sources (most recently used last). */
export class TaskRunner {
  private readonly runtime = new KernelRuntime();
  private readonly sources = new Map<string, RangeSource>();

  async run(task: Task): Promise<TaskResult> {
    switch (task.kind) {
      case 'hash':
        return hashFile(task.uri);
      case 'gather':
        return this.gather(task);
      case 'noop':
        return { kind: 'noop' };
      case 'aim':
        return runAim(task, (uri) => this.source(uri));
      // the model runtime (onnxruntime) loads only on threads that run models
      case 'activations':
        return { kind: 'activations', ...(await (await import('@tessera/model')).runActivationStage(task)) };
      case 'stats': {
        const striped = this.stripeReader(task);
        if (striped)
          return {
            kind: 'stats',
            stats: statsStripes(this.runtime, layoutOf(task), task.spec, task.elemStart, striped.read, striped.stripe),
            bytesRead: inputBytes(task),
          };
        const bytesRead = await this.load(task);
        return { kind: 'stats', stats: this.runtime.stats(task.spec, task.elemStart), bytesRead };
      }
      case 'merge':
        return this.merge(task);
    }
  }

  /** Merges a slice and writes it (a re-quantised FP8 slice: its values, then its block scales). */
  private async merge(task: MergeTask): Promise<TaskResult> {
    const striped = this.stripeReader(task);
    if (striped) return mergeStreamed(this.runtime, task, striped);
    const bytesRead = await this.load(task);
    const { bytes: merged, ...r } = this.runtime.merge(task.spec, task.elemStart);
    if (r.nonFinite > 0 || r.inputNonFinite > 0) return { kind: 'merge', ...r, bytesRead, bytesWritten: 0 };
    const dtype = mergedDtypeOf(task);
    const values = task.aim ? await aimBytes((uri) => this.source(uri), task.tensor, merged, dtype, task.elemStart, task.aim) : merged;
    const scale = task.out.scale;
    const q = scale && quantizeBlocks(new Float32Array(values.buffer, values.byteOffset, values.byteLength / 4), scale.cols, scale.block);
    const bytes = q ? q.bytes : values;
    const scaleBytes = q && new Uint8Array(q.scales.buffer);
    const bytesWritten = bytes.byteLength + (scaleBytes?.byteLength ?? 0);
    if (isNullSink(task.out.uri)) {
      const digest = createHash('sha256').update(bytes);
      if (scaleBytes) digest.update(scaleBytes);
      return { kind: 'merge', ...r, bytesRead, bytesWritten, digest: digest.digest('hex') };
    }
    await writeAt(task.out.uri, task.out.offset, bytes);
    if (scale && scaleBytes) await writeAt(scale.uri, scale.offset, scaleBytes);
    return { kind: 'merge', ...r, bytesRead, bytesWritten };
  }

  /** Writes rows of a re-indexed embedding matrix (see GatherTask). */
  private async gather(task: GatherTask): Promise<TaskResult> {
    const outSize = itemSize(task.out.dtype);
    const out = new Float64Array(task.rows * task.cols);
    const row = async (src: number, r: number): Promise<Float64Array> => {
      const s = task.sources[src]!;
      const size = itemSize(s.dtype);
      if (r >= s.rows) throw new Error(`gather ${task.id}: row ${r} outside ${s.uri} (${s.rows} rows)`);
      const bytes = new Uint8Array(task.cols * size);
      await this.source(s.uri).readInto(s.offset + r * task.cols * size, bytes);
      return decode(bytes, s.dtype);
    };
    let p = 0;
    for (let i = 0; i < task.rows; i++) {
      const count = task.plan[p++]!;
      const target = out.subarray(i * task.cols, (i + 1) * task.cols);
      if (count === -1) {
        const src = task.plan[p++]!;
        p++;
        const rows = task.sources[src]!.rows;
        for (let r = 0; r < rows; r++) {
          const v = await row(src, r);
          for (let c = 0; c < task.cols; c++) target[c] = target[c]! + v[c]! / rows;
        }
        continue;
      }
      for (let k = 0; k < count; k++) {
        const v = await row(task.plan[p++]!, task.plan[p++]!);
        for (let c = 0; c < task.cols; c++) target[c] = target[c]! + v[c]! / count;
      }
    }
    const bytes = encode(out, task.out.dtype);
    await writeAt(task.out.uri, task.out.offset, bytes);
    return { kind: 'gather', bytesWritten: task.rows * task.cols * outSize };
  }

  /** Memory held by the kernel instance. */
  get memoryBytes(): number {
    return this.runtime.memoryBytes;
  }

  async close(): Promise<void> {
    await Promise.all([...this.sources.values()].map((s) => s.close()));
    this.sources.clear();
  }

  private async load(task: StatsTask | MergeTask): Promise<number> {
    const scales = await Promise.all(task.inputs.map((i) => (i.scale ? this.scales(i.scale, task.elemStart, task.n) : undefined)));
    const views = this.runtime.prepare({ ...layoutOf(task), ...(scales.some((x) => x) ? { scales } : {}) });
    await Promise.all(task.inputs.map((input, k) => this.source(input.uri).readInto(input.offset, views[k]!)));
    return inputBytes(task) + scales.reduce((s, x) => s + (x?.values.byteLength ?? 0), 0);
  }

  /**
   * How a task reads its inputs stripe by stripe on this thread, when it can: every input local
   * (or synthetic), unscaled, and a kernel whose result does not depend on the striping. Undefined
   * otherwise (the slice is then read whole).
   */
  private stripeReader(task: StatsTask | MergeTask): Striped | undefined {
    if (task.inputs.some((i) => i.scale) || (task.kind === 'merge' && (task.aim || task.out.scale))) return undefined;
    const stripe = stripeOf(task.spec, layoutOf(task));
    if (stripe === undefined) return undefined;
    const sources = task.inputs.map((i) => this.source(i.uri));
    if (sources.some((s) => !s.readIntoSync)) return undefined;
    const read: StripeReader = (k, elemOffset, into) => {
      const input = task.inputs[k]!;
      sources[k]!.readIntoSync!(input.offset + elemOffset * itemSize(input.dtype), into);
    };
    return { read, stripe };
  }

  /** The scale rows the slice's elements fall in. */
  private async scales(s: TensorScale, elemStart: number, n: number): Promise<BlockScales> {
    const rows = blockRowsOf(elemStart, n, s.cols, s.block[0]);
    const bytes = new Uint8Array(rows.count * s.scaleCols * 4);
    await this.source(s.uri).readInto(s.offset + rows.first * s.scaleCols * 4, bytes);
    return { values: new Float32Array(bytes.buffer), firstBlockRow: rows.first, elemStart, cols: s.cols, scaleCols: s.scaleCols, block: s.block };
  }

  private source(uri: string): RangeSource {
    let s = this.sources.get(uri);
    if (s) {
      this.sources.delete(uri);
    } else {
      s = openSource(uri);
      if (this.sources.size >= MAX_OPEN) {
        const [oldest, src] = this.sources.entries().next().value!;
        this.sources.delete(oldest);
        void src.close();
      }
    }
    this.sources.set(uri, s);
    return s;
  }
}

/** Merges a slice stripe by stripe, each stripe written (or hashed, into the null sink) as it is done. */
function mergeStreamed(runtime: KernelRuntime, task: MergeTask, { read, stripe }: Striped): TaskResult {
  const size = itemSize(task.out.dtype);
  const digest = isNullSink(task.out.uri) ? createHash('sha256') : undefined;
  const out = digest ? undefined : new OutputWriter(task.out.uri);
  try {
    const r = mergeStripes(
      runtime,
      layoutOf(task),
      task.spec,
      task.elemStart,
      read,
      (off, bytes) => (digest ? digest.update(bytes) : out!.write(task.out.offset + off * size, bytes)),
      stripe,
    );
    const ok = r.nonFinite === 0 && r.inputNonFinite === 0;
    const bytesWritten = ok ? task.n * size : 0;
    return { kind: 'merge', ...r, bytesRead: inputBytes(task), bytesWritten, ...(ok && digest ? { digest: digest.digest('hex') } : {}) };
  } finally {
    out?.close();
  }
}

/** A task's inputs read stripe by stripe, and the stripe's length in elements. */
interface Striped {
  read: StripeReader;
  stripe: number;
}

function layoutOf(task: StatsTask | MergeTask): SliceLayout {
  return {
    n: task.n,
    inputDtypes: task.inputs.map((i) => i.dtype),
    rounding: task.rounding,
    ...(task.kind === 'merge' ? { outDtype: mergedDtypeOf(task) } : {}),
  };
}

function inputBytes(task: StatsTask | MergeTask): number {
  return task.inputs.reduce((s, i) => s + task.n * itemSize(i.dtype), 0);
}

/** The dtype the kernel writes: float32 for a slice re-quantised afterwards. */
function mergedDtypeOf(task: MergeTask) {
  return task.out.scale ? 'F32' : task.out.dtype;
}

async function hashFile(uri: string): Promise<TaskResult> {
  const [sha256, s] = await Promise.all([sha256File(uri), stat(uri)]);
  return { kind: 'hash', sha256, size: s.size };
}
