// `tessera merge` as a function: plan, stage, run every tensor, finalise, publish.
import { createOutputFiles } from '@tessera/checkpoint';
import { type Recipe, loadRecipe } from '@tessera/recipe';
import { availableParallelism } from 'node:os';
import { EmbeddedExecutor } from './embedded.js';
import { MergeInputError } from './errors.js';
import type { EventSink } from './events.js';
import type { Executor } from './executor.js';
import { finalise } from './finalise.js';
import { type JobPlan, type PlanOptions, planRecipe } from './plan.js';
import { discard, publish, stage } from './publish.js';
import { runTensors } from './schedule.js';

export interface MergeOptions extends PlanOptions {
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
}

export interface MergeSummary {
  out: string;
  seconds: number;
  inputBytes: number;
  outputBytes: number;
  files: string[];
  tensors: number;
}

/** Loads a recipe file and merges it. */
export async function mergeRecipeFile(path: string, opts: MergeOptions): Promise<MergeSummary> {
  const recipes = loadRecipe(path, { strict: opts.strict ?? false });
  if (recipes.length !== 1) throw new MergeInputError(`${path}: holds ${recipes.length} documents; multi-stage recipes are not supported here`);
  return mergeRecipe(recipes[0]!, opts);
}

export async function mergeRecipe(recipe: Recipe, opts: MergeOptions): Promise<MergeSummary> {
  const emit: EventSink = opts.onEvent ?? (() => undefined);
  for (const w of recipe.warnings) emit({ type: 'warning', message: w });
  const plan = await planRecipe(recipe, opts);
  for (const w of plan.warnings) emit({ type: 'warning', message: w });
  return runPlan(plan, opts, emit);
}

export async function runPlan(plan: JobPlan, opts: MergeOptions, emit: EventSink): Promise<MergeSummary> {
  const started = performance.now();
  const staging = await stage(opts.out, opts.overwrite ?? false);
  const exec = opts.executor ?? new EmbeddedExecutor(opts.workers ?? availableParallelism());
  const signal = opts.signal ?? new AbortController().signal;
  const slices = plan.tensors.reduce((s, t) => s + t.context.slices.length, 0);
  emit({ type: 'plan', tensors: plan.tensors.length, slices, inputBytes: plan.inputBytes, outputBytes: plan.layout.totalBytes, files: plan.layout.files.length, workers: exec.concurrency });
  try {
    await createOutputFiles(staging.tmp, plan.layout);
    const progress = progressReporter(plan, started, emit);
    await runTensors(plan, exec, staging.tmp, signal, { onMerged: (_, __, bytes) => progress.merged(bytes), onTensor: () => progress.tensor() });
    progress.flush();
    const files = await finalise(plan, staging, exec, opts.fsync ?? true, emit);
    emit({ type: 'finalise', step: 'publish' });
    await publish(staging, opts.fsync ?? true);
    const seconds = (performance.now() - started) / 1000;
    emit({ type: 'done', out: staging.out, seconds, inputBytes: plan.inputBytes, outputBytes: plan.layout.totalBytes, gbps: plan.inputBytes / seconds / 1e9, files, peakRssBytes: process.resourceUsage().maxRSS * 1024 });
    return { out: staging.out, seconds, inputBytes: plan.inputBytes, outputBytes: plan.layout.totalBytes, files, tensors: plan.tensors.length };
  } catch (e) {
    await discard(staging);
    throw e;
  } finally {
    if (!opts.executor) await exec.close();
  }
}

function progressReporter(plan: JobPlan, started: number, emit: EventSink) {
  let bytes = 0, tensors = 0, last = 0;
  const report = (force: boolean) => {
    const now = performance.now();
    if (!force && now - last < 250) return;
    last = now;
    const elapsedS = (now - started) / 1000;
    const rate = bytes / Math.max(elapsedS, 1e-9);
    emit({
      type: 'progress', tensorsDone: tensors, tensorsTotal: plan.tensors.length, bytesDone: bytes, bytesTotal: plan.inputBytes,
      elapsedS, gbps: rate / 1e9, etaS: bytes > 0 ? (plan.inputBytes - bytes) / rate : null,
    });
  };
  return {
    merged(b: number) { bytes += b; report(false); },
    tensor() { tensors++; report(false); },
    flush() { report(true); },
  };
}
