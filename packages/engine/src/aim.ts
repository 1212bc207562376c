// AIM in a merge job: the activation statistics of the base on the calibration set (computed
// once, cached by the base's content hash and the calibration sequences' hash, or given as an
// .arrow file), then every merge task of a tensor with statistics applies AIM to its slice.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { openCheckpoint } from '@tessera/checkpoint';
import type { AimSpec } from '@tessera/recipe';
import { isFloatDtype } from '@tessera/tensor';
// the model runtime and Arrow load only when AIM is used
const model = () => import('@tessera/model');
import { calibrationSequences, collectActivations, sequencesHash } from './activations.js';
import { cacheDir, checkpointHash } from './content-hash.js';
import type { EventSink } from './events.js';
import type { Executor } from './executor.js';
import type { JobPlan } from './plan.js';
import { MergeInputError } from './errors.js';

export interface AimStatsOptions {
  executor: Executor;
  /** shared storage: hidden states while computing, and the statistics file the tasks read */
  workDir: string;
  chains?: number;
  signal?: AbortSignal;
  emit?: EventSink;
}

/** The statistics for `base` and `calibration`, and the path of their copy in `workDir` (readable by every worker). */
export async function aimStatistics(base: string, calibration: string, opts: AimStatsOptions): Promise<{ path: string; sums: Map<string, Float64Array> }> {
  const emit = opts.emit ?? (() => undefined);
  await mkdir(opts.workDir, { recursive: true });
  const local = join(opts.workDir, 'aim-stats.arrow');
  const { readStats, writeStats } = await model();
  if (calibration.endsWith('.arrow')) {
    const { sums } = await readStats(calibration);
    await copyFile(calibration, local);
    emit({ type: 'aim', step: 'ready', stats: calibration });
    return { path: local, sums };
  }
  const ckpt = await openCheckpoint(base);
  const seqs = await calibrationSequences(base, calibration);
  const key = createHash('sha256')
    .update(`${await checkpointHash(ckpt, opts.executor, opts.signal)}\n${sequencesHash(seqs)}`)
    .digest('hex')
    .slice(0, 32);
  const cached = join(cacheDir(), 'activations', `${key}.arrow`);
  let sums: Map<string, Float64Array>;
  if (
    await stat(cached).then(
      () => true,
      () => false,
    )
  ) {
    sums = (await readStats(cached)).sums;
    emit({ type: 'aim', step: 'cached', stats: cached });
  } else {
    const stats = await collectActivations(base, seqs, {
      executor: opts.executor,
      workDir: opts.workDir,
      chains: opts.chains ?? opts.executor.concurrency,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onStage: (done, total) => emit({ type: 'aim', step: 'computing', done, total }),
    });
    await mkdir(join(cacheDir(), 'activations'), { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    await writeStats(tmp, { ...stats, meta: { ...stats.meta, calibration } });
    await rename(tmp, cached);
    sums = stats.sums;
    emit({ type: 'aim', step: 'ready', stats: cached });
  }
  await copyFile(cached, local);
  return { path: local, sums };
}

/**
 * Gives the merge tasks of every tensor that has statistics and a same-shaped base tensor the
 * AIM parameters; other tensors (embeddings, re-indexed vocabularies) keep the operator's result.
 */
export async function attachAim(plan: JobPlan, aim: AimSpec, statsPath: string, stats: ReadonlyMap<string, Float64Array>): Promise<string[]> {
  const warnings: string[] = [];
  const base = await openCheckpoint(plan.recipe.base!.path);
  for (const t of plan.tensors) {
    const sums = stats.get(t.name);
    if (!sums) continue;
    const b = base.tensors.get(t.name);
    const cols = t.shape[t.shape.length - 1]!;
    if (b?.dtype.startsWith('F8_')) throw new MergeInputError(`aim: tensor ${t.name} of the base is ${b.dtype}; AIM needs an unquantised base`, t.name);
    if (!b || b.shape.join() !== t.shape.join() || !isFloatDtype(b.dtype)) {
      warnings.push(`aim: tensor ${t.name} has no base tensor of shape [${t.shape.join(', ')}]; it keeps the operator's result`);
      continue;
    }
    if (sums.length !== cols) {
      warnings.push(`aim: tensor ${t.name} has ${cols} input channels, the statistics ${sums.length}; it keeps the operator's result`);
      continue;
    }
    t.aim = { stats: statsPath, omega: aim.omega, cols, base: { uri: b.file, offset: b.offset, dtype: b.dtype } };
  }
  return warnings;
}
