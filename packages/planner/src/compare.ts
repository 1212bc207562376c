// The measure of a k-way plan: the planned merge of experts against merging all of them with
// each fixed candidate, by evaluated accuracy on the experts' tasks. This is the merge-and-evaluate
// search the planner exists to avoid, run once to measure how well it does.
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Executor, mergeRecipes, scopedExecutor } from '@tessera/engine';
import { parseRecipes } from '@tessera/recipe';
import { accuraciesOf } from './accuracy.js';
import { CANDIDATES } from './candidates.js';
import type { Catalog, Expert } from './catalog.js';
import { type ManyPlan, planMany } from './plan-many.js';
import type { OnnxPredictor } from './predictor-onnx.js';

export interface MultiWayRow {
  /** `base`, `plan`, or a fixed candidate merging all the experts */
  name: string;
  /** accuracy per task, in the order of `tasks` */
  accuracy: number[];
  mean: number;
}

export interface MultiWay {
  tasks: string[];
  plan: ManyPlan;
  rows: MultiWayRow[];
}

export async function compareMultiWay(
  catalog: Catalog,
  experts: Expert[],
  opts: { executor: Executor; predictor: OnnxPredictor; workDir: string; signal?: AbortSignal; onRow?(row: MultiWayRow): void },
): Promise<MultiWay> {
  const tasks = [...new Set(experts.map((e) => e.task))];
  const files = tasks.map((t) => join(catalog.eval, `${t}.jsonl`));
  const signal = opts.signal ? { signal: opts.signal } : {};
  const plan = await planMany(
    catalog.base,
    experts.map((e) => e.path),
    { executor: opts.executor, predictor: opts.predictor, ...signal },
  );
  const run = randomBytes(4).toString('hex');
  const out = join(opts.workDir, 'merged');
  await mkdir(opts.workDir, { recursive: true });
  const rows: MultiWayRow[] = [];
  const score = async (name: string, dir: string) => {
    const accuracy = await accuraciesOf(dir, files);
    const row = { name, accuracy, mean: accuracy.reduce((a, b) => a + b, 0) / accuracy.length };
    rows.push(row);
    opts.onRow?.(row);
  };
  const merge = async (name: string, text: string) => {
    await mergeRecipes(parseRecipes(text, join(opts.workDir, `${name}.yaml`)), {
      out,
      overwrite: true,
      fsync: false,
      executor: scopedExecutor(opts.executor, `compare-${run}-${name}`),
      ...signal,
    });
    await score(name, out);
  };
  try {
    await score('base', catalog.base);
    await merge('plan', plan.recipe);
    for (const c of CANDIDATES)
      if (c.recipe && !c.pair)
        await merge(
          c.name,
          c.recipe(
            catalog.base,
            experts.map((e) => e.path),
          ),
        );
  } finally {
    await rm(opts.workDir, { recursive: true, force: true });
  }
  return { tasks, plan, rows };
}
