// Outcome collection: every pair of a catalog merged with every candidate (engine jobs on one
// executor: threads here, or NATS workers) and evaluated on the two experts' tasks. The
// normalised score of a merge is the mean over the two tasks of its accuracy divided by that
// task's expert's own accuracy. Progress is appended to `<out>.progress.jsonl` line by line, so
// a killed collect continues where it stopped; the Arrow file is written at the end.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Executor, mergeRecipes, scopedExecutor } from '@tessera/engine';
import { parseRecipes } from '@tessera/recipe';
import { CANDIDATES, type Candidate } from './candidates.js';
import type { Catalog } from './catalog.js';
import { type Features, pairFeatures } from './features.js';
import { structuralStats } from './structural.js';

export interface OutcomeRow {
  a: string;
  b: string;
  taskA: string;
  taskB: string;
  candidate: string;
  /** accuracy of the result on a's task and on b's task */
  accA: number;
  accB: number;
  /** each expert's accuracy on its own task */
  ownA: number;
  ownB: number;
  score: number;
  features: Features;
}

export interface CollectOptions {
  executor: Executor;
  out: string;
  /** where merged candidates are written and removed again */
  workDir: string;
  signal?: AbortSignal;
  /** only the first N pairs (in catalog order) */
  limitPairs?: number;
  /** candidates merged and evaluated at once (default 2) */
  concurrency?: number;
  candidates?: readonly Candidate[];
  onRow?(row: OutcomeRow, done: number, total: number): void;
}

type Progress = { kind: 'accuracy'; model: string; task: string; accuracy: number } | ({ kind: 'outcome' } & OutcomeRow);

/** Accuracies of a model on tasks (exact match, greedy), in order. */
async function accuraciesOf(dir: string, evalFiles: string[]): Promise<number[]> {
  const m = await import('@tessera/model');
  const rt = await m.LlamaRuntime.open(dir);
  try {
    const scores = await m.evaluate(rt, await m.loadTokenizer(dir, rt.config.eos), m.loadTasks(evalFiles), { batchSize: 64 });
    return evalFiles.map((f) => scores.find((s) => f.endsWith(`/${s.task}.jsonl`))!.accuracy);
  } finally {
    await rt.close();
  }
}

export async function collectOutcomes(catalog: Catalog, opts: CollectOptions): Promise<OutcomeRow[]> {
  const progress = `${opts.out}.progress.jsonl`;
  const seen: Progress[] = existsSync(progress)
    ? (await readFile(progress, 'utf8'))
        .split('\n')
        .filter((l) => l.trim() !== '')
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Progress];
          } catch {
            return []; // a line cut by a kill
          }
        })
    : [];
  const accuracy = new Map<string, number>(seen.flatMap((p) => (p.kind === 'accuracy' ? [[`${p.model}\u0000${p.task}`, p.accuracy] as const] : [])));
  const done = new Map<string, OutcomeRow>(seen.flatMap((p) => (p.kind === 'outcome' ? [[`${p.a}\u0000${p.b}\u0000${p.candidate}`, p] as const] : [])));
  const record = (p: Progress) => appendFile(progress, JSON.stringify(p) + '\n');
  const evalFile = (task: string) => join(catalog.eval, `${task}.jsonl`);
  // one evaluation per (model, task), even when lanes ask at once
  const pending = new Map<string, Promise<number>>();
  const acc = (model: string, task: string): Promise<number> => {
    const key = `${model}\u0000${task}`;
    const known = accuracy.get(key);
    if (known !== undefined) return Promise.resolve(known);
    let p = pending.get(key);
    if (!p) {
      p = accuraciesOf(model, [evalFile(task)]).then(async ([v]) => {
        await record({ kind: 'accuracy', model, task, accuracy: v! });
        return v!;
      });
      pending.set(key, p);
    }
    return p;
  };

  const experts = catalog.experts;
  const stats = await structuralStats(
    catalog.base,
    experts.map((e) => e.path),
    { executor: opts.executor, ...(opts.signal ? { signal: opts.signal } : {}) },
  );
  const pairs = catalog.pairs.slice(0, opts.limitPairs ?? catalog.pairs.length);
  const candidates = opts.candidates ?? CANDIDATES;
  const total = pairs.length * candidates.length;
  await mkdir(opts.workDir, { recursive: true });
  const run = randomBytes(4).toString('hex');
  const jobs = pairs.flatMap(([ia, ib]) => candidates.map((c) => ({ ia, ib, c })));
  const rows: OutcomeRow[] = new Array(jobs.length);
  const features = new Map<string, Features>();
  let next = 0,
    finished = 0;
  const lane = async (slot: number) => {
    const merged = join(opts.workDir, `candidate-${slot}`);
    try {
      while (next < jobs.length) {
        const at = next++;
        const { ia, ib, c } = jobs[at]!;
        if (opts.signal?.aborted) throw opts.signal.reason;
        const a = experts[ia]!,
          b = experts[ib]!;
        const fkey = `${ia}/${ib}`;
        if (!features.has(fkey)) features.set(fkey, pairFeatures(stats, ia, ib));
        const f = features.get(fkey)!;
        const ownA = await acc(a.path, a.task),
          ownB = await acc(b.path, b.task);
        let row = done.get(`${a.name}\u0000${b.name}\u0000${c.name}`);
        if (!row) {
          let accA: number, accB: number;
          if (c.keep !== undefined) {
            const kept = c.keep === 0 ? a : b;
            [accA, accB] = [await acc(kept.path, a.task), await acc(kept.path, b.task)];
          } else {
            const text = c.recipe!(catalog.base, a.path, b.path);
            await mergeRecipes(parseRecipes(text, join(opts.workDir, 'candidate.yaml')), {
              out: merged,
              overwrite: true,
              fsync: false,
              // each candidate is a job of its own on the shared executor
              executor: scopedExecutor(opts.executor, `collect-${run}-${at}`),
              ...(opts.signal ? { signal: opts.signal } : {}),
            });
            [accA, accB] = (await accuraciesOf(merged, [evalFile(a.task), evalFile(b.task)])) as [number, number];
          }
          const score = (ownA > 0 ? accA / ownA : 0) / 2 + (ownB > 0 ? accB / ownB : 0) / 2;
          row = { a: a.name, b: b.name, taskA: a.task, taskB: b.task, candidate: c.name, accA, accB, ownA, ownB, score, features: f };
          await record({ kind: 'outcome', ...row });
        }
        rows[at] = { ...row, features: f };
        opts.onRow?.(rows[at]!, ++finished, total);
      }
    } finally {
      await rm(merged, { recursive: true, force: true });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 2) }, (_, i) => lane(i)));
  return rows;
}
