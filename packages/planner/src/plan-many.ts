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
  /** predicted normalised score of this merge, and the retained abilities after it (in experts) */
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

async function predictions(p: OnnxPredictor, f: Features): Promise<{ candidate: string; score: number }[]> {
  const [s] = await p.predict([p.features.map((name) => f[name as keyof Features])]);
  return p.candidates.map((candidate, k) => ({ candidate, score: s![k]! })).sort((x, y) => y.score - x.score);
}

export async function planMany(
  base: string,
  models: string[],
  opts: { executor: Executor; predictor: OnnxPredictor; signal?: AbortSignal },
): Promise<ManyPlan> {
  const k = models.length;
  const stats: StructuralStats = await structuralStats(base, models, { executor: opts.executor, ...(opts.signal ? { signal: opts.signal } : {}) });
  const unit = (i: number): number[] => models.map((_, j) => (j === i ? 1 : 0));
  const bestMerge = (ps: { candidate: string; score: number }[]) => ps.find((p) => MERGES.some((c) => c.name === p.candidate))!;

  // the first pairs: the BEAM pairs whose best merge keeps most; each grows greedily, and the
  // plan predicted to keep most abilities wins
  type Preds = { candidate: string; score: number }[];
  const firsts: { a: number; b: number; ps: Preds }[] = [];
  for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++) firsts.push({ a, b, ps: await predictions(opts.predictor, pairFeatures(stats, a, b)) });
  firsts.sort((x, y) => bestMerge(y.ps).score - bestMerge(x.ps).score);
  const first = firsts[0]!;
  const grow = async (start: { a: number; b: number; ps: Preds }) => {
    const steps: PlanStep[] = [];
    const docs: string[] = [];
    let used: number[] = [start.a];
    let coeffs = unit(start.a);
    let retained = 1;
    let current = models[start.a]!;
    let pending: { i: number; ps: Preds } | undefined = { i: start.b, ps: start.ps };
    while (pending) {
      const m = bestMerge(pending.ps);
      const gain = (retained + 1) * m.score;
      if (gain <= retained) break;
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
        if (!pending || bestMerge(ps).score > bestMerge(pending.ps).score) pending = { i, ps };
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
  if (steps.length === 0) {
    // no merge is predicted to keep more than one expert: keep the first pair's better side
    const keepB = (first.ps.find((p) => p.candidate === 'keep_b')?.score ?? 0) > (first.ps.find((p) => p.candidate === 'keep_a')?.score ?? 0);
    const kept = models[keepB ? first.b : first.a]!;
    return { base, models, used: [kept], steps, objective: 1 / k, recipe: `merge_method: passthrough\nmodels:\n  - model: ${JSON.stringify(kept)}\n` };
  }
  // the last step is the final document (no name)
  docs[docs.length - 1] = docs[docs.length - 1]!.replace(/^name: .*\n/, '');
  const header = `# planned by tessera: ${steps.map((s) => `${s.candidate} + ${s.add.split('/').pop()}`).join(', ')} (predicted share kept ${(retained / k).toFixed(3)})\n`;
  return { base, models, used: used.map((i) => models[i]!), steps, objective: retained / k, recipe: header + docs.join('---\n') };
}
