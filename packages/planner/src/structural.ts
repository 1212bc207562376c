// Structural statistics of k experts and their base, in one pass over the slices of every
// tensor, as engine stats tasks (on threads or NATS workers; no model is ever whole in memory):
// the Gram of the weights (base included) and of the task vectors, and sign counts per pair of
// task vectors, overall and on the entries TIES would keep (its top-k by magnitude, density 0.2).
// Everything a pair signal needs is a sum of these, so per-tensor, per-layer and global signals
// of every pair come from the same numbers.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import { openCheckpoint } from '@tessera/checkpoint';
import { type Executor, type TensorPlan, cacheDir, checkpointHash, layerIndex, planRecipe, scopedExecutor, statsTask } from '@tessera/engine';
import { parseRecipes } from '@tessera/recipe';
import { type MaskSpec, OperatorError, type StatsResult, type StatsSpec } from '@tessera/tensor';
import { addInto, triSize } from './gram.js';

export interface StructuralOptions {
  executor: Executor;
  signal?: AbortSignal;
  /** size of one input's slice in bytes (default: from the memory budget) */
  sliceBytes?: number;
  memoryBytes?: number;
  /** share of each task vector's largest entries counted as kept by TIES (default 0.2) */
  density?: number;
  /** reuse statistics cached under $TESSERA_CACHE_DIR/signals by the models' content hashes (default true) */
  cache?: boolean;
  /**
   * statistics of this many evenly spaced decoder layers only (the embeddings, final norm and head
   * left out): an estimate of every signal for a fraction of the reads (default: every tensor)
   */
  layers?: number;
}

/** `n` evenly spaced layers of `count` (the middle of each of n equal bands). */
export function sampledLayers(count: number, n: number): Set<number> {
  return new Set(Array.from({ length: Math.min(n, count) }, (_, i) => Math.floor(((2 * i + 1) * count) / (2 * Math.min(n, count)))));
}

export interface TensorStats {
  name: string;
  /** decoder layer, or undefined (embeddings, final norm, head) */
  layer: number | undefined;
  numel: number;
  /** upper triangle of the Gram of [base, model_1..k] */
  raw: Float64Array;
  /** upper triangle of the Gram of the task vectors [d_1..d_k] */
  delta: Float64Array;
  /** per pair i < j: [both non-zero, agreeing, both kept, kept and conflicting] */
  signs: Float64Array;
}

export interface StructuralStats {
  base: string;
  models: string[];
  density: number;
  tensors: TensorStats[];
}

const sumBlocks = (parts: StatsResult[], size: number): Float64Array => {
  const out = new Float64Array(size);
  // slices in order, blocks in order: the same sums whatever the slicing
  for (const r of parts) if (r.kernel === 'gram') for (const b of r.blocks) addInto(out, b);
  return out;
};

async function tensorStats(t: TensorPlan, exec: Executor, density: number, k: number, signal: AbortSignal | undefined): Promise<TensorStats> {
  const slices = t.context.slices;
  const run = (pass: number, spec: (i: number) => StatsSpec) => Promise.all(slices.map((_, i) => exec.run(statsTask(t, pass, i, spec(i)), signal)));
  const results = (rs: Awaited<ReturnType<typeof run>>) => rs.map((r) => (r.kind === 'stats' ? r.stats : r) as StatsResult);
  // TIES's selection: its own program's stats passes give the per-slice top-k masks
  let pass = 0;
  let masks: ((i: number) => MaskSpec[]) | undefined;
  if (density < 1 && Math.floor(density * t.numel) > 0) {
    const program = t.operator.program(t.context);
    for (let next = program.nextStats(); next; next = program.nextStats(), pass++) program.reduce(results(await run(pass, next)));
    masks = (i) => {
      const spec = program.merge(i);
      if (spec.kernel !== 'tvmerge') throw new OperatorError(t.name, 'internal error: the TIES program gave no task-vector spec');
      return spec.models.map((m) => m.mask);
    };
  }
  const [raw, delta, signs] = await Promise.all([
    run(pass, () => ({ kernel: 'gram', mode: 'raw' })),
    run(pass + 1, () => ({ kernel: 'gram', mode: 'delta' })),
    run(pass + 2, (i) => ({ kernel: 'signs', masks: masks ? masks(i) : Array.from({ length: k }, () => ({ kind: 'zero' }) as MaskSpec) })),
  ]);
  const counts = new Float64Array(((k * (k - 1)) / 2) * 4);
  for (const r of results(signs)) if (r.kernel === 'signs') addInto(counts, r.counts);
  return {
    name: t.name,
    layer: layerIndex(t.name),
    numel: t.numel,
    raw: sumBlocks(results(raw), triSize(k + 1)),
    delta: sumBlocks(results(delta), triSize(k)),
    signs: counts,
  };
}

/** The structural statistics of `models` against `base` (paths or URLs of checkpoints). */
export async function structuralStats(base: string, models: string[], opts: StructuralOptions): Promise<StructuralStats> {
  const density = opts.density ?? 0.2;
  // every task of the job listens to the one signal
  if (opts.signal) setMaxListeners(0, opts.signal);
  // a TIES recipe over the experts: its plan gives the tensors, their inputs and slices, and
  // the top-k selection of every task vector
  const text = [
    'merge_method: ties',
    `base_model: ${JSON.stringify(base)}`,
    'models:',
    ...models.map((m) => `  - {model: ${JSON.stringify(m)}, parameters: {weight: 1, density: ${Math.min(density, 1)}}}`),
  ].join('\n');
  const [recipe] = parseRecipes(text, join(process.cwd(), 'signals.yaml'));
  // the same experts (by content) give the same statistics: cached by their hashes
  const key = opts.cache === false ? undefined : await cacheKey([base, ...models], density, opts.layers, opts.executor, opts.signal);
  const cached = key ? await readCache(key) : undefined;
  if (cached) return { base, models, density, tensors: cached };
  const plan = await planRecipe(recipe!, {
    ...(opts.sliceBytes !== undefined ? { sliceBytes: opts.sliceBytes } : {}),
    ...(opts.memoryBytes !== undefined ? { memoryBytes: opts.memoryBytes } : {}),
  });
  if (opts.layers !== undefined) {
    const count = new Set(plan.tensors.map((t) => layerIndex(t.name)).filter((l) => l !== undefined)).size;
    if (count === 0) throw new OperatorError(base, 'signals from sampled layers need a model with decoder layers (model.layers.N)');
    const keep = sampledLayers(count, opts.layers);
    plan.tensors = plan.tensors.filter((t) => keep.has(layerIndex(t.name) ?? -1));
  }
  // a long-lived executor (a service's) runs many such jobs: their task ids must not meet
  const executor = scopedExecutor(opts.executor, `signals-${randomBytes(6).toString('hex')}`);
  const window = Math.max(2, executor.concurrency * 2);
  const out: TensorStats[] = new Array(plan.tensors.length);
  let next = 0;
  const lane = async () => {
    while (next < plan.tensors.length) {
      const i = next++;
      out[i] = await tensorStats(plan.tensors[i]!, executor, density, models.length, opts.signal);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, plan.tensors.length) }, lane));
  if (key) await writeCache(key, out);
  return { base, models, density, tensors: out };
}

async function cacheKey(paths: string[], density: number, layers: number | undefined, exec: Executor, signal: AbortSignal | undefined): Promise<string> {
  const hashes = [];
  for (const p of paths) hashes.push(await checkpointHash(await openCheckpoint(p), exec, signal));
  return createHash('sha256')
    .update(JSON.stringify({ version: 1, density, hashes, ...(layers !== undefined ? { layers } : {}) }))
    .digest('hex');
}

const cacheFile = (key: string) => join(cacheDir(), 'signals', `${key}.json`);

async function readCache(key: string): Promise<TensorStats[] | undefined> {
  try {
    const raw = JSON.parse(await readFile(cacheFile(key), 'utf8')) as (Omit<TensorStats, 'raw' | 'delta' | 'signs' | 'layer'> & {
      layer: number | null;
      raw: number[];
      delta: number[];
      signs: number[];
    })[];
    return raw.map((t) => ({
      ...t,
      layer: t.layer ?? undefined,
      raw: Float64Array.from(t.raw),
      delta: Float64Array.from(t.delta),
      signs: Float64Array.from(t.signs),
    }));
  } catch {
    return undefined;
  }
}

async function writeCache(key: string, tensors: TensorStats[]): Promise<void> {
  const file = cacheFile(key);
  await mkdir(join(cacheDir(), 'signals'), { recursive: true });
  const body = tensors.map((t) => ({ ...t, layer: t.layer ?? null, raw: [...t.raw], delta: [...t.delta], signs: [...t.signs] }));
  await writeFile(`${file}.${process.pid}.tmp`, JSON.stringify(body));
  await rename(`${file}.${process.pid}.tmp`, file);
}
