// `tessera aim BASE MERGED`: AIM on a model merged elsewhere. The merged folder is copied under
// a temporary name, AIM tasks read the merged slices from the original and write into the copy
// (so a task run twice writes the same bytes), then the manifest is written and the copy renamed.
import { availableParallelism } from 'node:os';
import { copyFile, readdir, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { MANIFEST_FILE, openCheckpoint, syncFile, writeManifest } from '@tessera/checkpoint';
import { isFloatDtype } from '@tessera/tensor';
import { aimStatistics } from './aim.js';
import { EmbeddedExecutor } from './embedded.js';
import type { EventSink } from './events.js';
import type { Executor } from './executor.js';
import { discard, publish, stage, syncDir } from './publish.js';
import type { AimTask } from '@tessera/protocol/task';
import { TESSERA_VERSION } from './version.js';

export interface AimApplyOptions {
  out: string;
  omega: number;
  overwrite?: boolean;
  executor?: Executor;
  workers?: number;
  fsync?: boolean;
  signal?: AbortSignal;
  onEvent?: EventSink;
}

const SLICE_ELEMENTS = 2 ** 20;

export async function applyAimToCheckpoint(
  base: string,
  merged: string,
  statsPath: string,
  opts: AimApplyOptions,
): Promise<{ out: string; tensors: number; seconds: number }> {
  const started = performance.now();
  const emit = opts.onEvent ?? (() => undefined);
  const [b, m] = await Promise.all([openCheckpoint(base), openCheckpoint(merged)]);
  const staging = await stage(opts.out, opts.overwrite ?? false);
  const exec = opts.executor ?? new EmbeddedExecutor(opts.workers ?? availableParallelism());
  // the tasks read a copy of the statistics made for this job (workers cache files by path)
  const work = `${staging.tmp}.aim`;
  try {
    const stats = await aimStatistics(base, statsPath, { executor: exec, workDir: work });
    for (const name of await readdir(m.dir)) {
      if (name === MANIFEST_FILE || !(await stat(join(m.dir, name))).isFile()) continue;
      await copyFile(join(m.dir, name), join(staging.tmp, name));
    }
    const tasks: AimTask[] = [];
    let tensors = 0;
    for (const t of m.tensors.values()) {
      const sums = stats.sums.get(t.name);
      if (!sums) continue;
      const bt = b.tensors.get(t.name);
      const cols = t.shape[t.shape.length - 1]!;
      if (!bt || bt.shape.join() !== t.shape.join() || !isFloatDtype(bt.dtype) || !isFloatDtype(t.dtype) || sums.length !== cols) {
        emit({ type: 'warning', message: `aim: tensor ${t.name} has no same-shaped base tensor or statistics of ${cols} channels; it is copied unchanged` });
        continue;
      }
      tensors++;
      for (let e = 0; e < t.numel; e += SLICE_ELEMENTS) {
        const n = Math.min(SLICE_ELEMENTS, t.numel - e);
        const item = t.byteLength / t.numel,
          baseItem = bt.byteLength / bt.numel;
        tasks.push({
          kind: 'aim',
          id: `aim/${t.name}/${e}`,
          tensor: t.name,
          elemStart: e,
          n,
          base: { uri: bt.file, offset: bt.offset + e * baseItem, dtype: bt.dtype },
          merged: { uri: t.file, offset: t.offset + e * item, dtype: t.dtype },
          out: { uri: join(staging.tmp, basename(t.file)), offset: t.offset + e * item },
          aim: { stats: stats.path, omega: opts.omega, cols },
        });
      }
    }
    let next = 0;
    const lane = async () => {
      while (next < tasks.length) await exec.run(tasks[next++]!, opts.signal);
    };
    await Promise.all(Array.from({ length: Math.max(1, exec.concurrency * 2) }, lane));
    emit({ type: 'finalise', step: 'hash' });
    await writeManifest(staging.tmp, TESSERA_VERSION);
    if (opts.fsync ?? true) {
      emit({ type: 'finalise', step: 'sync' });
      for (const name of await readdir(staging.tmp)) await syncFile(join(staging.tmp, name));
      await syncDir(staging.tmp);
    }
    emit({ type: 'finalise', step: 'publish' });
    await publish(staging, opts.fsync ?? true);
    return { out: staging.out, tensors, seconds: (performance.now() - started) / 1000 };
  } catch (e) {
    await discard(staging);
    throw e;
  } finally {
    await rm(work, { recursive: true, force: true });
    if (!opts.executor) await exec.close();
  }
}
