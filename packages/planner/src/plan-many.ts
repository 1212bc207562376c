// Planning a merge of k experts: a greedy order on predicted pair scores. The plan starts from
// the pair whose best merge keeps most of both experts' abilities, then adds, one at a time, the
// expert whose merge into the running result is predicted to keep most, and stops when no
// remaining expert is predicted to add more than it costs (those experts are left out). The
// running result is a virtual expert whose signals come from the Grams: exactly for task
// arithmetic (its task vector is a linear combination of the experts'), approximated by the task
// arithmetic of the same λ for the other operators. Several first pairs are grown this way and
// the plan predicted to keep most wins. The plan is a multi-document recipe, one document per step.
import type { Executor } from '@tessera/engine';
import { CANDIDATES, type Candidate } from './candidates.js';
import { type Features, pairFeatures } from './features.js';
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

const MERGES = CANDIDATES.filter((c) => c.recipe !== undefined);

/** First pairs tried (each grown greedily). */
const BEAM = 6;

/** Coefficients of a merge's task vector over its two sides' (task arithmetic of the same λ for sparsifying operators). */
function mergeCoeffs(c: Candidate, left: number[], right: number[]): number[] {
  const lambda = /_(\d+(?:\.\d+)?)$/.exec(c.name);
  if (c.name === 'linear' || c.name.startsWith('slerp')) return left.map((v, i) => (v + right[i]!) / 2);
  const l = c.name.startsWith('ta_') || c.name.startsWith('ties_') || c.name.startsWith('dare_ties_') ? Number(lambda?.[1] ?? 1) : 1;
  return left.map((v, i) => l * (v + right[i]!));
}

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
    /** the objective: how much each expert's ability counts (default: 1 each) */
    weights?: number[];
  },
): Promise<ManyPlan> {
  const k = models.length;
  const stats: StructuralStats = await structuralStats(base, models, { executor: opts.executor, ...(opts.signal ? { signal: opts.signal } : {}) });
  const unit = (i: number): number[] => models.map((_, j) => (j === i ? 1 : 0));
  const w = models.map((_, i) => opts.weights?.[i] ?? 1);
  // what merging expert j into a result that keeps `held` of the objective keeps, with candidate p
  const kept = (held: number, j: number, p: Preds[number]) => held * p.a + w[j]! * p.b;
  const bestMerge = (ps: Preds, held: number, j: number) =>
    ps.filter((p) => MERGES.some((c) => c.name === p.candidate)).reduce((x, y) => (kept(held, j, y) > kept(held, j, x) ? y : x));

  // the first pairs: the BEAM pairs whose best merge keeps most; each grows greedily, and the
  // plan predicted to keep most abilities wins
  const firsts: { a: number; b: number; ps: Preds }[] = [];
  for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++) firsts.push({ a, b, ps: await predictions(opts.predictor, pairFeatures(stats, a, b)) });
  const firstValue = (f: (typeof firsts)[number]) => kept(w[f.a]!, f.b, bestMerge(f.ps, w[f.a]!, f.b));
  firsts.sort((x, y) => firstValue(y) - firstValue(x));
  const first = firsts[0]!;
  const grow = async (start: { a: number; b: number; ps: Preds }) => {
    const steps: PlanStep[] = [];
    const docs: string[] = [];
    let used: number[] = [start.a];
    let coeffs = unit(start.a);
    let retained = w[start.a]!;
    let current = models[start.a]!;
    let pending: { i: number; ps: Preds } | undefined = { i: start.b, ps: start.ps };
    while (pending) {
      const m = bestMerge(pending.ps, retained, pending.i);
      const gain = kept(retained, pending.i, m);
      if (gain <= Math.max(retained, w[pending.i]!)) break;
      const c = CANDIDATES.find((x) => x.name === m.candidate)!;
      const name = `step${steps.length + 1}`;
      docs.push(`name: ${name}\n${c.recipe!(base, current, models[pending.i]!)}`);
      steps.push({ from: current, add: models[pending.i]!, candidate: m.candidate, score: m.score, retained: gain, predictions: pending.ps });
      coeffs = mergeCoeffs(c, coeffs, unit(pending.i));
      used = [...used, pending.i];
      retained = gain;
      current = name;
      // the next expert: the one whose merge into the running result is predicted to keep most
      pending = undefined;
      const virtual = withCombination(stats, coeffs);
      for (let i = 0; i < k; i++) {
        if (used.includes(i)) continue;
        const ps = await predictions(opts.predictor, pairFeatures(virtual, k, i));
        if (!pending || kept(retained, i, bestMerge(ps, retained, i)) > kept(retained, pending.i, bestMerge(pending.ps, retained, pending.i)))
          pending = { i, ps };
      }
    }
    return { steps, docs, used, retained };
  };
  let best = await grow(first);
  for (const start of firsts.slice(1, BEAM)) {
    const g = await grow(start);
    if (g.retained > best.retained) best = g;
  }
  const { steps, docs, used, retained } = best;
  const total = w.reduce((x, y) => x + y, 0);
  if (steps.length === 0) {
    // no merge is predicted to keep more than one expert: keep the first pair's better side
    const keepB = (first.ps.find((p) => p.candidate === 'keep_b')?.score ?? 0) > (first.ps.find((p) => p.candidate === 'keep_a')?.score ?? 0);
    const keep = models[keepB ? first.b : first.a]!;
    return {
      base,
      models,
      used: [keep],
      steps,
      objective: Math.max(...w) / total,
      recipe: `merge_method: passthrough\nmodels:\n  - model: ${JSON.stringify(keep)}\n`,
    };
  }
  // the last step is the final document (no name)
  docs[docs.length - 1] = docs[docs.length - 1]!.replace(/^name: .*\n/, '');
  const header = `# planned by tessera: ${steps.map((s) => `${s.candidate} + ${s.add.split('/').pop()}`).join(', ')} (predicted share kept ${(retained / total).toFixed(3)})\n`;
  return { base, models, used: used.map((i) => models[i]!), steps, objective: retained / total, recipe: header + docs.join('---\n') };
}
