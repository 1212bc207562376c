// Planning a merge of k experts: a greedy order on predicted pair scores. The value of a plan is
// the share of every expert's ability it keeps, weighted by the objective: an expert merged in
// keeps the share its steps are predicted to keep; an expert left out still counts for what the
// merged experts keep of it ("keep one expert" predicts how much of b's ability a alone has: near
// nothing across tasks, much of it for another expert of the same task). The plan starts from the
// pair whose best merge is worth most, then adds, one at a time, the expert whose merge into the
// running result is worth most, and stops when no addition is predicted to be worth more than the
// running result (the remaining experts are left out). The running result is a virtual expert
// whose signals come from the Grams, exactly: every step is a linear or task-arithmetic merge,
// so its task vector is a linear combination of the experts'. Several first pairs are grown this
// way and the plan worth most wins. The plan is a multi-document recipe, one document per step.
import { predictionsComment } from './predictions-comment.js';
import type { Executor } from '@tessera/engine';
import { ModelError } from '@tessera/model/errors';
import { CANDIDATES, exactCombination, mergeCoefficients } from './candidates.js';
import { FEATURES, type Features, pairFeatures } from './features.js';
import type { OnnxPredictor } from './predictor-onnx.js';
import { withCombination } from './signals.js';
import { type StructuralStats, structuralStats } from './structural.js';

export interface PlanStep {
  /** the running result (a stage name, or an expert) and the expert merged into it */
  from: string;
  add: string;
  candidate: string;
  /** predicted normalised score of this merge, and the objective kept after it (in weighted experts) */
  score: number;
  retained: number;
  predictions: { candidate: string; score: number }[];
}

export interface ManyPlan {
  base: string;
  models: string[];
  /** the experts merged, in order; the others are left out */
  used: string[];
  steps: PlanStep[];
  /** the predicted share of the experts' abilities the result keeps (retained / k) */
  objective: number;
  recipe: string;
}

/**
 * The candidates of a step: those whose result the Grams describe exactly (linear and task
 * arithmetic), since a step's result is the running result the next step is predicted from. A
 * sparsifying step would be followed by predictions from the signals of a merge it did not make:
 * on the 8 v1 experts such a plan (DELLA, then TIES) scored 22.4%, the plan of exact steps 33.1%.
 */
const MERGES = CANDIDATES.filter((c) => c.recipe !== undefined && exactCombination(c));

/** First pairs tried (each grown greedily). */
const BEAM = 6;

/** Per candidate: the predicted share kept of side a's and side b's ability, and their mean. */
type Preds = { candidate: string; a: number; b: number; score: number }[];

async function predictions(p: OnnxPredictor, f: Features): Promise<Preds> {
  const [s] = await p.predict([p.features.map((name) => f[name as keyof Features])]);
  const c = p.candidates.length;
  const sides = s!.length === 2 * c;
  return p.candidates
    .map((candidate, k) => {
      const a = s![k]!,
        b = sides ? s![c + k]! : s![k]!;
      return { candidate, a, b, score: (a + b) / 2 };
    })
    .sort((x, y) => y.score - x.score);
}

export async function planMany(
  base: string,
  models: string[],
  opts: {
    executor: Executor;
    predictor: OnnxPredictor;
    signal?: AbortSignal;
    /** signals from this many evenly spaced decoder layers (default: every tensor) */
    layers?: number;
    /** the objective: how much each expert's ability counts (default: 1 each) */
    weights?: number[];
  },
): Promise<ManyPlan> {
  const k = models.length;
  const missing = opts.predictor.features.filter((f) => !(FEATURES as readonly string[]).includes(f));
  if (missing.length > 0)
    throw new ModelError(
      opts.predictor.path,
      `reads features a plan of more than two experts cannot give its running results (${missing.join(', ')}): use a predictor of the structural features (${FEATURES.join(', ')})`,
    );
  const stats: StructuralStats = await structuralStats(base, models, {
    executor: opts.executor,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.layers !== undefined ? { layers: opts.layers } : {}),
  });
  const unit = (i: number): number[] => models.map((_, j) => (j === i ? 1 : 0));
  const w = models.map((_, i) => opts.weights?.[i] ?? 1);
  const total = w.reduce((x, y) => x + y, 0);

  // every pair's predictions; cover[u][j]: the share of expert j's ability expert u alone keeps
  const pairs: { a: number; b: number; ps: Preds }[] = [];
  const cover = models.map(() => new Array<number>(k).fill(0));
  for (let a = 0; a < k; a++)
    for (let b = a + 1; b < k; b++) {
      const ps = await predictions(opts.predictor, pairFeatures(stats, a, b));
      pairs.push({ a, b, ps });
      cover[a]![b] = Math.max(0, ps.find((p) => p.candidate === 'keep_a')?.b ?? 0);
      cover[b]![a] = Math.max(0, ps.find((p) => p.candidate === 'keep_b')?.a ?? 0);
    }
  // the value of a result that keeps share[u] of each merged expert u (0 for the others): what it
  // keeps of every expert, at most all of its ability (a stronger expert of the same task is no gain)
  const value = (share: number[]) =>
    w.reduce(
      (sum, wj, j) =>
        sum +
        wj *
          Math.min(
            1,
            share.reduce((best, su, u) => Math.max(best, u === j ? su : su * cover[u]![j]!), 0),
          ),
      0,
    );
  // merging expert i into a result with these shares by candidate p
  const after = (kept: number[], i: number, p: Preds[number]) => kept.map((su, u) => (u === i ? p.b : su * p.a));
  // the merge candidate worth most (each valued once; the first on ties)
  const bestMerge = (ps: Preds, share: number[], i: number) => {
    let best = ps[0]!,
      bestValue = Number.NEGATIVE_INFINITY;
    for (const p of ps) {
      if (!MERGES.some((c) => c.name === p.candidate)) continue;
      const v = value(after(share, i, p));
      if (v > bestValue) [best, bestValue] = [p, v];
    }
    return best;
  };

  const firstValue = (f: (typeof pairs)[number]) => value(after(unit(f.a), f.b, bestMerge(f.ps, unit(f.a), f.b)));
  const firsts = [...pairs].sort((x, y) => firstValue(y) - firstValue(x));
  const grow = async (start: (typeof pairs)[number]) => {
    const steps: PlanStep[] = [];
    const docs: string[] = [];
    let used: number[] = [start.a];
    let share = unit(start.a);
    let coeffs = unit(start.a);
    let current = models[start.a]!;
    let pending: { i: number; ps: Preds } | undefined = { i: start.b, ps: start.ps };
    while (pending) {
      const m = bestMerge(pending.ps, share, pending.i);
      const next = after(share, pending.i, m);
      if (value(next) <= value(share)) break;
      const c = CANDIDATES.find((x) => x.name === m.candidate)!;
      const name = `step${steps.length + 1}`;
      docs.push(`name: ${name}\n${c.recipe!(base, [current, models[pending.i]!])}`);
      steps.push({ from: current, add: models[pending.i]!, candidate: m.candidate, score: m.score, retained: value(next), predictions: pending.ps });
      coeffs = mergeCoefficients(c, coeffs, unit(pending.i));
      used = [...used, pending.i];
      share = next;
      current = name;
      // the next expert: the one whose merge into the running result is worth most
      pending = undefined;
      let pendingValue = -Infinity;
      const virtual = withCombination(stats, coeffs);
      for (let i = 0; i < k; i++) {
        if (used.includes(i)) continue;
        const ps = await predictions(opts.predictor, pairFeatures(virtual, k, i));
        const v = value(after(share, i, bestMerge(ps, share, i)));
        if (v > pendingValue) [pending, pendingValue] = [{ i, ps }, v];
      }
    }
    return { steps, docs, used, retained: value(share) };
  };
  let best = await grow(firsts[0]!);
  for (const start of firsts.slice(1, BEAM)) {
    const g = await grow(start);
    if (g.retained > best.retained) best = g;
  }
  // keeping one expert, the one worth most, when no merge is predicted to be worth more
  const single = models.map((_, u) => value(unit(u)));
  const keep = single.indexOf(Math.max(...single));
  if (best.steps.length === 0 || single[keep]! >= best.retained) {
    return {
      base,
      models,
      used: [models[keep]!],
      steps: [],
      objective: single[keep]! / total,
      recipe: `merge_method: passthrough\nmodels:\n  - model: ${JSON.stringify(models[keep]!)}\n`,
    };
  }
  const { steps, docs, used, retained } = best;
  // the last step is the final document (no name)
  docs[docs.length - 1] = docs[docs.length - 1]!.replace(/^name: .*\n/, '');
  const short = (m: string) => m.split('/').pop();
  const header = `# planned by tessera: ${short(steps[0]!.from)}, ${steps.map((s) => `${s.candidate} + ${short(s.add)}`).join(', ')} (predicted share kept ${(retained / total).toFixed(3)})\n${predictionsComment(
    steps.map((s) => ({ step: `${short(s.from)} + ${short(s.add)}`, chosen: s.candidate, candidates: [...s.predictions].sort((x, y) => y.score - x.score) })),
  )}`;
  return { base, models, used: used.map((i) => models[i]!), steps, objective: retained / total, recipe: header + docs.join('---\n') };
}
