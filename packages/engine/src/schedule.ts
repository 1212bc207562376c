// Drives every tensor's program on an executor: stats passes over all slices, reductions in
// slice order, then the merge tasks. Tensors run concurrently, in file order, with a bounded
// number in flight; the first failure stops the job.
import { type MergeSpec, type StatsResult, type StatsSpec, itemSize } from '@tessera/tensor';
import { join } from 'node:path';
import { CancelledError, MergeInputError } from './errors.js';
import type { Executor } from './executor.js';
import type { JobPlan, TensorPlan } from './plan.js';
import type { MergeResult, MergeTask, StatsTask, TaskResult } from '@tessera/protocol/task';
import { NULL_SINK, isNullSink } from './null-sink.js';

export interface ScheduleHooks {
  /** a merge task finished (result undefined: done in an earlier run) */
  onMerged?(tensor: TensorPlan, slice: number, result: MergeResult | undefined): void;
  /** a tensor is complete */
  onTensor?(tensor: TensorPlan): void;
  /** whether a merge task is already done (resume): it is then skipped */
  isDone?(taskId: string): boolean;
  /** records a finished merge task (resume) */
  markDone?(taskId: string): Promise<void>;
}

/** What every task on one slice of a tensor says: the tensor, the slice and its inputs. */
function sliceTask(t: TensorPlan, slice: number, id: string) {
  const s = t.context.slices[slice]!;
  return { id, tensor: t.name, inputs: sliceInputs(t, s.elemStart), elemStart: s.elemStart, n: s.n, rounding: t.rounding };
}

export function statsTask(t: TensorPlan, pass: number, slice: number, spec: StatsSpec): StatsTask {
  return { kind: 'stats', ...sliceTask(t, slice, `${t.index}/s${pass}/${slice}`), spec };
}

export function mergeTask(t: TensorPlan, slice: number, spec: MergeSpec, outDir: string): MergeTask {
  const s = t.context.slices[slice]!;
  const size = itemSize(t.outDtype);
  return {
    kind: 'merge',
    ...sliceTask(t, slice, mergeTaskId(t, slice)),
    spec,
    out: {
      uri: outUri(outDir, t.outFile),
      offset: t.outOffset + s.elemStart * size,
      dtype: t.outDtype,
      ...(t.outScale ? { scale: sliceScale(t, s.elemStart, outDir) } : {}),
    },
    ...(t.aim ? { aim: { ...t.aim, base: { ...t.aim.base, offset: t.aim.base.offset + s.elemStart * itemSize(t.aim.base.dtype) } } } : {}),
  };
}

/** The byte ranges of the output that a slice's merge task writes: its values, and the scale rows of a re-quantised tensor. */
export function sliceWrites(t: TensorPlan, slice: number): { file: string; offset: number; length: number }[] {
  const s = t.context.slices[slice]!;
  const size = itemSize(t.outDtype);
  const writes = [{ file: t.outFile, offset: t.outOffset + s.elemStart * size, length: s.n * size }];
  if (t.outScale) {
    const { block, shape, file, offset } = t.outScale;
    const rows = (e: number) => Math.ceil(e / t.shape[1]! / block[0]);
    writes.push({ file: file!, offset: offset! + rows(s.elemStart) * shape[1] * 4, length: (rows(s.elemStart + s.n) - rows(s.elemStart)) * shape[1] * 4 });
  }
  return writes;
}

function outUri(outDir: string, file: string): string {
  return isNullSink(outDir) ? `${NULL_SINK}${file}` : join(outDir, file);
}

/** Where a re-quantised slice (whole block rows) writes its scale rows. */
function sliceScale(t: TensorPlan, elemStart: number, outDir: string) {
  const { block, shape, file, offset } = t.outScale!;
  const cols = t.shape[1]!;
  return { uri: outUri(outDir, file!), offset: offset! + (elemStart / cols / block[0]) * shape[1] * 4, cols, block };
}

function mergeTaskId(t: TensorPlan, slice: number): string {
  return `${t.index}/m/${slice}`;
}

function sliceInputs(t: TensorPlan, elemStart: number) {
  return t.inputs.map((i) => ({ uri: i.uri, offset: i.offset + elemStart * itemSize(i.dtype), dtype: i.dtype, ...(i.scale ? { scale: i.scale } : {}) }));
}

/** Runs one tensor to completion. */
export async function runTensor(t: TensorPlan, exec: Executor, outDir: string, signal: AbortSignal, hooks: ScheduleHooks): Promise<void> {
  const program = t.operator.program(t.context);
  const slices = t.context.slices;
  // a resumed tensor whose merge tasks are all done needs neither its stats nor its merges
  if (hooks.isDone && slices.every((_, i) => hooks.isDone!(mergeTaskId(t, i)))) {
    for (const [i] of slices.entries()) hooks.onMerged?.(t, i, undefined);
    hooks.onTensor?.(t);
    return;
  }
  let pass = 0;
  for (let next = program.nextStats(); next; next = program.nextStats(), pass++) {
    const results = await Promise.all(slices.map((_, i) => exec.run(statsTask(t, pass, i, next(i)), signal)));
    program.reduce(results.map((r) => (r as Extract<TaskResult, { kind: 'stats' }>).stats as StatsResult));
  }
  await Promise.all(
    slices.map(async (_, i) => {
      const task = mergeTask(t, i, program.merge(i), outDir);
      if (hooks.isDone?.(task.id)) return;
      const r = await exec.run(task, signal);
      if (r.kind !== 'merge') throw new Error(`unexpected result for ${task.id}`);
      if (r.inputNonFinite > 0) {
        throw new MergeInputError(
          `the inputs hold ${r.inputNonFinite} NaN/Inf value(s), the first at element ${slices[i]!.elemStart + r.firstInputNonFinite}`,
          t.name,
        );
      }
      if (r.nonFinite > 0) {
        throw new MergeInputError(
          `the merge produced ${r.nonFinite} NaN/Inf value(s), the first at element ${slices[i]!.elemStart + r.firstNonFinite} (check the inputs and parameters)`,
          t.name,
        );
      }
      await hooks.markDone?.(task.id);
      hooks.onMerged?.(t, i, r);
    }),
  );
  hooks.onTensor?.(t);
}

/**
 * Runs every tensor of a plan; at most `window` tensors in flight. When a tensor fails, the
 * tensors after it stop and the ones before it finish: the error reported is always the first
 * failing tensor's, whatever the timing.
 */
export async function runTensors(plan: JobPlan, exec: Executor, outDir: string, signal: AbortSignal, hooks: ScheduleHooks): Promise<void> {
  const window = Math.max(2, exec.concurrency * 2);
  const running = new Map<number, AbortController>();
  const stopAfter = (index: number) => {
    for (const [i, c] of running) if (i > index) c.abort();
  };
  const cancel = () => {
    for (const c of running.values()) c.abort();
  };
  signal.addEventListener('abort', cancel, { once: true });
  let next = 0;
  const failures = new Map<number, unknown>();
  const firstFailure = () => (failures.size > 0 ? Math.min(...failures.keys()) : Infinity);
  const lane = async () => {
    while (next < plan.tensors.length && next < firstFailure()) {
      if (signal.aborted) throw new CancelledError();
      const t = plan.tensors[next++]!;
      const ctrl = new AbortController();
      running.set(t.index, ctrl);
      try {
        await runTensor(t, exec, outDir, ctrl.signal, hooks);
      } catch (e) {
        if (!(ctrl.signal.aborted && isAbort(e))) {
          failures.set(t.index, e);
          stopAfter(t.index);
        }
      } finally {
        running.delete(t.index);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(window, plan.tensors.length) }, lane));
  } finally {
    signal.removeEventListener('abort', cancel);
  }
  if (signal.aborted) throw new CancelledError();
  if (failures.size > 0) throw failures.get(firstFailure());
}

function isAbort(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || /abort/i.test(e.message));
}
