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
import { accuraciesOf } from './accuracy.js';
import { CANDIDATES, type Candidate, mergeCoefficients } from './candidates.js';
import type { Catalog } from './catalog.js';
import { type Features, pairFeatures } from './features.js';
import { withCombination } from './signals.js';
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
  const acc = (m: Left, task: string): Promise<number> => {
    const key = `${m.key}\u0000${task}`;
    const known = accuracy.get(key);
    if (known !== undefined) return Promise.resolve(known);
    let p = pending.get(key);
    if (!p) {
      p = m
        .path()
        .then((dir) => accuraciesOf(dir, [evalFile(task)]))
        .then(async ([v]) => {
          await record({ kind: 'accuracy', model: m.key, task, accuracy: v! });
          return v!;
        });
      pending.set(key, p);
    }
    return p;
  };
  /** the accuracy of model m on the tasks of side `on`, their mean */
  const meanAcc = async (m: Left, on: Left) => {
    let sum = 0;
    for (const t of on.tasks) sum += await acc(m, t);
    return sum / on.tasks.length;
  };

  const experts = catalog.experts;
  const stats = await structuralStats(
    catalog.base,
    experts.map((e) => e.path),
    { executor: opts.executor, ...(opts.signal ? { signal: opts.signal } : {}) },
  );
  const run = randomBytes(4).toString('hex');
  let jobNo = 0;
  const merge = (text: string, out: string) =>
    mergeRecipes(parseRecipes(text, join(opts.workDir, 'candidate.yaml')), {
      out,
      overwrite: true,
      fsync: false,
      // each merge is a job of its own on the shared executor
      executor: scopedExecutor(opts.executor, `collect-${run}-${jobNo++}`),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });

  // the left side of a merge: an expert, or a running result of a k-way plan (two experts
  // merged, written once on first use); its accuracy is the mean over its tasks
  const sides: Left[] = experts.map((e, i) => ({
    name: e.name,
    key: e.path,
    tasks: [e.task],
    path: async () => e.path,
    features: (b) => pairFeatures(stats, i, b),
  }));
  for (const [n, st] of catalog.steps.entries()) {
    const [x, y] = [experts[st.from[0]]!, experts[st.from[1]]!];
    const c = CANDIDATES.find((x) => x.name === st.candidate)!;
    const dir = join(opts.workDir, `step-${n}`);
    let written: Promise<string> | undefined;
    const unit = (i: number) => experts.map((_, j) => (j === i ? 1 : 0));
    const virtual = withCombination(stats, mergeCoefficients(c, unit(st.from[0]), unit(st.from[1])));
    sides.push({
      name: `${x.name}+${y.name}`,
      key: `step:${x.name}+${y.name}:${st.candidate}`,
      tasks: [x.task, y.task],
      path: () => (written ??= merge(c.recipe!(catalog.base, [x.path, y.path]), dir).then(() => dir)),
      features: (b) => pairFeatures(virtual, experts.length, b),
    });
  }
  const lefts: [number, number][] = [
    ...catalog.pairs.slice(0, opts.limitPairs ?? catalog.pairs.length),
    ...catalog.steps.map((st, n): [number, number] => [experts.length + n, st.add]),
  ];
  const candidates = opts.candidates ?? CANDIDATES;
  const total = lefts.length * candidates.length;
  await mkdir(opts.workDir, { recursive: true });
  const jobs = lefts.flatMap(([ia, ib]) => candidates.map((c) => ({ ia, ib, c })));
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
        const a = sides[ia]!,
          b = sides[ib]!;
        const fkey = `${ia}/${ib}`;
        if (!features.has(fkey)) features.set(fkey, a.features(ib));
        const f = features.get(fkey)!;
        let row = done.get(`${a.name}\u0000${b.name}\u0000${c.name}`);
        if (!row) {
          const ownA = await meanAcc(a, a),
            ownB = await meanAcc(b, b);
          let accA: number, accB: number;
          if (c.keep !== undefined) {
            const kept = c.keep === 0 ? a : b;
            [accA, accB] = [await meanAcc(kept, a), await meanAcc(kept, b)];
          } else {
            await merge(c.recipe!(catalog.base, [await a.path(), await b.path()]), merged);
            const files = [...a.tasks, ...b.tasks].map(evalFile);
            const accs = await accuraciesOf(merged, files);
            const mean = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;
            [accA, accB] = [mean(accs.slice(0, a.tasks.length)), mean(accs.slice(a.tasks.length))];
          }
          const score = (ownA > 0 ? accA / ownA : 0) / 2 + (ownB > 0 ? accB / ownB : 0) / 2;
          row = { a: a.name, b: b.name, taskA: a.tasks.join('+'), taskB: b.tasks.join('+'), candidate: c.name, accA, accB, ownA, ownB, score, features: f };
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
  for (let n = 0; n < catalog.steps.length; n++) await rm(join(opts.workDir, `step-${n}`), { recursive: true, force: true });
  return rows;
}

interface Left {
  name: string;
  /** the model's key in the progress file: an expert's path, a running result's name */
  key: string;
  tasks: string[];
  /** the checkpoint's folder */
  path(): Promise<string>;
  /** the features of this side (a) with expert b */
  features(b: number): Features;
}
