// `tessera merge` as a function: stage the output, plan, write re-indexed embeddings (when the
// vocabulary changes), run every tensor, finalise, publish. A multi-document recipe runs its
// documents in order as one job; intermediate outputs live beside the output folder and are
// removed as soon as no later document needs them.
import { mkdir, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createOutputFiles } from '@tessera/checkpoint';
import { type Recipe, loadRecipe, modelsOf } from '@tessera/recipe';
import { EmbeddedExecutor } from './embedded.js';
import type { EventSink } from './events.js';
import type { Executor } from './executor.js';
import { aimStatistics, attachAim } from './aim.js';
import { finalise } from './finalise.js';
import { type JobPlan, type PlanOptions, planRecipe } from './plan.js';
import { type Staging, discard, publish, stage } from './publish.js';
import { runTensors, sliceWrites } from './schedule.js';
import { PrefixHasher } from './prefix-hash.js';
import { peakRssBytes } from './peak-memory.js';
import { NULL_SINK, combineDigests, isNullSink } from './null-sink.js';
import { scopedExecutor } from './scoped-executor.js';

export interface MergeOptions extends Omit<PlanOptions, 'workDir' | 'stages'> {
  out: string;
  /** worker threads of the embedded executor (default: the machine's parallelism) */
  workers?: number;
  overwrite?: boolean;
  /** flush every output file to disk before publishing (default true) */
  fsync?: boolean;
  /** unknown recipe keys are errors */
  strict?: boolean;
  onEvent?: EventSink;
  /** run tasks here instead of an embedded pool */
  executor?: Executor;
  signal?: AbortSignal;
  /** a job id: temporary folders get fixed names, so an interrupted job can resume */
  jobKey?: string;
  /** finished tasks of an earlier run of the same job (skipped) and where to record new ones */
  resume?: ResumeHooks;
}

/** Task completions that outlive the process (a distributed job's store). `scope` names the document. */
export interface ResumeHooks {
  isDone(scope: string, taskId: string): boolean;
  markDone(scope: string, taskId: string): Promise<void>;
}

export interface MergeSummary {
  out: string;
  /** the null:// sink: sha256 over the slices' digests */
  digest?: string;
  seconds: number;
  inputBytes: number;
  outputBytes: number;
  files: string[];
  tensors: number;
}

/** Loads a recipe file (one or several documents) and merges it. */
export async function mergeRecipeFile(path: string, opts: MergeOptions): Promise<MergeSummary> {
  return withExecutor(opts, (o) => mergeRecipes(loadRecipe(path, { strict: opts.strict ?? false }), o));
}

export async function mergeRecipes(recipes: Recipe[], opts: MergeOptions): Promise<MergeSummary> {
  if (!opts.executor) return withExecutor(opts, (o) => mergeRecipes(recipes, o));
  if (recipes.length === 1) return mergeRecipe(recipes[0]!, opts);
  const emit: EventSink = opts.onEvent ?? (() => undefined);
  const out = resolve(opts.out);
  const root = join(dirname(out), `.${basename(out)}.tessera-stages-${opts.jobKey ?? `${process.pid}-${randomBytes(4).toString('hex')}`}`);
  const order = recipes; // in run order (parseRecipes orders the documents by what they use)
  const stages = new Map<string, string>();
  const exec = opts.executor;
  await mkdir(root, { recursive: true });
  try {
    let summary: MergeSummary | undefined;
    for (const [i, r] of order.entries()) {
      emit({ type: 'stage', name: r.name ?? '(final)', index: i + 1, count: order.length });
      const target = r.name === undefined ? opts.out : join(root, r.name);
      const done = r.name !== undefined && opts.resume?.isDone(r.name, 'stage');
      if (!done) {
        // task ids are per document: scoped, documents never share an id on the executor
        summary = await mergeRecipe(
          r,
          { ...opts, out: target, overwrite: r.name === undefined ? (opts.overwrite ?? false) : true, executor: scopedExecutor(exec, `d${i}`) },
          stages,
        );
        if (r.name !== undefined) await opts.resume?.markDone(r.name, 'stage');
      }
      if (r.name !== undefined) stages.set(r.name, target);
      for (const [name, dir] of stages) {
        if (order.slice(i + 1).some((later) => modelsOf(later).some((m) => m.stage === name))) continue;
        await rm(dir, { recursive: true, force: true });
        stages.delete(name);
      }
    }
    return summary!;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Runs `body` with the options' executor, or an embedded pool that lives as long as the body. */
async function withExecutor<T>(opts: MergeOptions, body: (o: MergeOptions & { executor: Executor }) => Promise<T>): Promise<T> {
  if (opts.executor) return body({ ...opts, executor: opts.executor });
  // the pool's threads start (and compile their kernels) while the recipe is read and planned
  const exec = new EmbeddedExecutor(opts.workers ?? availableParallelism());
  try {
    return await body({ ...opts, executor: exec });
  } finally {
    await exec.close();
  }
}

export async function mergeRecipe(recipe: Recipe, opts: MergeOptions, stages?: ReadonlyMap<string, string>): Promise<MergeSummary> {
  const emit: EventSink = opts.onEvent ?? (() => undefined);
  for (const w of recipe.warnings) emit({ type: 'warning', message: w });
  const staging = await stage(opts.out, opts.overwrite ?? false, opts.jobKey);
  let plan: JobPlan;
  try {
    plan = await planRecipe(recipe, { ...opts, workDir: `${staging.tmp}.work`, ...(stages ? { stages } : {}) });
  } catch (e) {
    await discard(staging);
    throw e;
  }
  for (const w of plan.warnings) emit({ type: 'warning', message: w });
  return runPlan(plan, staging, opts, emit, recipe.name ?? '');
}

export async function runPlan(plan: JobPlan, staging: Staging & { resumed?: boolean }, opts: MergeOptions, emit: EventSink, scope = ''): Promise<MergeSummary> {
  const started = performance.now();
  const exec = opts.executor ?? new EmbeddedExecutor(opts.workers ?? availableParallelism());
  const signal = opts.signal ?? new AbortController().signal;
  let hasher: PrefixHasher | undefined;
  const slices = plan.tensors.reduce((s, t) => s + t.context.slices.length, 0);
  emit({
    type: 'plan',
    tensors: plan.tensors.length,
    slices,
    inputBytes: plan.inputBytes,
    outputBytes: plan.layout.totalBytes,
    files: plan.layout.files.length,
    workers: exec.concurrency,
  });
  try {
    const resume = opts.resume;
    const resumed = staging.resumed === true;
    if (plan.work) {
      await mkdir(plan.work.dir, { recursive: true });
      await ensureFiles(plan.work.dir, plan.work.layout, resumed);
      await Promise.all(
        plan.work.gathers.map(async (g) => {
          if (resume?.isDone(scope, g.id)) return;
          await exec.run(g, signal);
          await resume?.markDone(scope, g.id);
        }),
      );
    }
    const aim = plan.recipe.aim;
    if (aim) {
      const stats = await aimStatistics(plan.recipe.base!.path, aim.calibration, {
        executor: exec,
        workDir: `${staging.tmp}.aim`,
        ...(aim.chains ? { chains: aim.chains } : {}),
        signal,
        emit,
      });
      for (const w of await attachAim(plan, aim, stats.path, stats.sums)) emit({ type: 'warning', message: w });
    }
    const sink = isNullSink(staging.out);
    if (!sink) await ensureFiles(staging.tmp, plan.layout, resumed);
    const progress = progressReporter(plan, started, emit);
    const digests = plan.tensors.map((t) => new Array<string>(t.context.slices.length).fill(''));
    hasher = sink ? undefined : new PrefixHasher(staging.tmp, plan.layout);
    try {
      await runTensors(plan, exec, sink ? NULL_SINK : staging.tmp, signal, {
        onMerged: (t, i, r) => {
          progress.merged(r?.bytesRead ?? 0);
          if (r?.digest) digests[t.index]![i] = r.digest;
          if (hasher) for (const w of sliceWrites(t, i)) hasher.finished(w.file, w.offset, w.length);
        },
        onTensor: () => progress.tensor(),
        ...(resume ? { isDone: (id: string) => resume.isDone(scope, id), markDone: (id: string) => resume.markDone(scope, id) } : {}),
      });
      progress.flush();
    } finally {
      progress.close();
    }
    if (sink) {
      const seconds = (performance.now() - started) / 1000;
      const digest = combineDigests(digests.flat());
      emit({
        type: 'done',
        out: NULL_SINK,
        seconds,
        inputBytes: plan.inputBytes,
        outputBytes: plan.layout.totalBytes,
        gbps: plan.inputBytes / seconds / 1e9,
        files: [],
        peakRssBytes: peakRssBytes(),
        digest,
      });
      return { out: NULL_SINK, seconds, inputBytes: plan.inputBytes, outputBytes: plan.layout.totalBytes, files: [], tensors: plan.tensors.length, digest };
    }
    const files = await finalise(plan, staging, hasher!, opts.fsync ?? true, emit);
    emit({ type: 'finalise', step: 'publish' });
    await publish(staging, opts.fsync ?? true);
    const seconds = (performance.now() - started) / 1000;
    emit({
      type: 'done',
      out: staging.out,
      seconds,
      inputBytes: plan.inputBytes,
      outputBytes: plan.layout.totalBytes,
      gbps: plan.inputBytes / seconds / 1e9,
      files,
      peakRssBytes: peakRssBytes(),
    });
    return { out: staging.out, seconds, inputBytes: plan.inputBytes, outputBytes: plan.layout.totalBytes, files, tensors: plan.tensors.length };
  } catch (e) {
    await discard(staging);
    throw e;
  } finally {
    if (plan.work) await rm(plan.work.dir, { recursive: true, force: true });
    if (plan.recipe.aim) await rm(`${staging.tmp}.aim`, { recursive: true, force: true });
    await hasher?.close();
    if (!opts.executor) await exec.close();
  }
}

/** Creates the files of a layout, or keeps them when resuming and they have the planned size. */
async function ensureFiles(dir: string, layout: JobPlan['layout'], resumed: boolean): Promise<void> {
  if (resumed) {
    const sizes = await Promise.all(
      layout.files.map((f) =>
        stat(join(dir, f.name)).then(
          (s) => s.size,
          () => -1,
        ),
      ),
    );
    if (sizes.every((s, i) => s === layout.files[i]!.size)) return;
  }
  await createOutputFiles(dir, layout);
}

/**
 * Progress events at most every 250 ms; one held back by that limit is sent when it ends, so a
 * job whose results stop coming (a paused or lost worker) still shows all it has done.
 */
function progressReporter(plan: JobPlan, started: number, emit: EventSink) {
  let bytes = 0,
    tensors = 0,
    last = 0;
  let held: NodeJS.Timeout | undefined;
  const report = (force: boolean) => {
    const now = performance.now();
    if (!force && now - last < 250) {
      held ??= setTimeout(() => report(true), 250 - (now - last)).unref();
      return;
    }
    clearTimeout(held);
    held = undefined;
    last = now;
    const elapsedS = (now - started) / 1000;
    const rate = bytes / Math.max(elapsedS, 1e-9);
    emit({
      type: 'progress',
      tensorsDone: tensors,
      tensorsTotal: plan.tensors.length,
      bytesDone: bytes,
      bytesTotal: plan.inputBytes,
      elapsedS,
      gbps: rate / 1e9,
      etaS: bytes > 0 ? (plan.inputBytes - bytes) / rate : null,
    });
  };
  return {
    merged(b: number) {
      bytes += b;
      report(false);
    },
    tensor() {
      tensors++;
      report(false);
    },
    flush() {
      report(true);
    },
    /** No more events (the merge stopped). */
    close() {
      clearTimeout(held);
      held = undefined;
    },
  };
}
