// Drives every tensor's program on an executor: stats passes over all slices, reductions in
// slice order, then the merge tasks. Tensors run concurrently, in file order, with a bounded
// number in flight; the first failure stops the job.
import { type MergeSpec, type StatsResult, type StatsSpec, itemSize } from '@tessera/tensor';
import { join } from 'node:path';
import { CancelledError, MergeInputError } from './errors.js';
import type { Executor } from './executor.js';
import type { JobPlan, TensorPlan } from './plan.js';
import type { MergeTask, StatsTask, TaskResult } from './task.js';

export interface ScheduleHooks {
  /** a merge task finished */
  onMerged?(tensor: TensorPlan, slice: number, bytesRead: number): void;
  /** a tensor is complete */
  onTensor?(tensor: TensorPlan): void;
  /** whether a merge task is already done (resume): it is then skipped */
  isDone?(taskId: string): boolean;
}

export function statsTask(t: TensorPlan, pass: number, slice: number, spec: StatsSpec): StatsTask {
  const s = t.context.slices[slice]!;
  return { kind: 'stats', id: `${t.index}/s${pass}/${slice}`, tensor: t.name, inputs: sliceInputs(t, s.elemStart), elemStart: s.elemStart, n: s.n, rounding: t.rounding, spec };
}

export function mergeTask(t: TensorPlan, slice: number, spec: MergeSpec, outDir: string): MergeTask {
  const s = t.context.slices[slice]!;
  const size = itemSize(t.outDtype);
  return {
    kind: 'merge', id: `${t.index}/m/${slice}`, tensor: t.name, inputs: sliceInputs(t, s.elemStart), elemStart: s.elemStart, n: s.n,
    rounding: t.rounding, spec, out: { uri: join(outDir, t.outFile), offset: t.outOffset + s.elemStart * size, dtype: t.outDtype },
  };
}

function sliceInputs(t: TensorPlan, elemStart: number) {
  return t.inputs.map((i) => ({ uri: i.uri, offset: i.offset + elemStart * itemSize(i.dtype), dtype: i.dtype }));
}

/** Runs one tensor to completion. */
export async function runTensor(t: TensorPlan, exec: Executor, outDir: string, signal: AbortSignal, hooks: ScheduleHooks): Promise<void> {
  const program = t.operator.program(t.context);
  const slices = t.context.slices;
  let pass = 0;
  for (let next = program.nextStats(); next; next = program.nextStats(), pass++) {
    const results = await Promise.all(slices.map((_, i) => exec.run(statsTask(t, pass, i, next(i)), signal)));
    program.reduce(results.map((r) => (r as Extract<TaskResult, { kind: 'stats' }>).stats as StatsResult));
  }
  await Promise.all(slices.map(async (_, i) => {
    const task = mergeTask(t, i, program.merge(i), outDir);
    if (hooks.isDone?.(task.id)) return;
    const r = await exec.run(task, signal);
    if (r.kind !== 'merge') throw new Error(`unexpected result for ${task.id}`);
    if (r.inputNonFinite > 0) {
      throw new MergeInputError(`the inputs hold ${r.inputNonFinite} NaN/Inf value(s), the first at element ${slices[i]!.elemStart + r.firstInputNonFinite}`, t.name);
    }
    if (r.nonFinite > 0) {
      throw new MergeInputError(`the merge produced ${r.nonFinite} NaN/Inf value(s), the first at element ${slices[i]!.elemStart + r.firstNonFinite} (check the inputs and parameters)`, t.name);
    }
    hooks.onMerged?.(t, i, r.bytesRead);
  }));
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
  const stopAfter = (index: number) => { for (const [i, c] of running) if (i > index) c.abort(); };
  const cancel = () => { for (const c of running.values()) c.abort(); };
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
