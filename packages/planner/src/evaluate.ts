// Leave-one-task-out cross-validation of the predictors: for each task, train on the pairs that
// do not involve it, pick a candidate for each pair that does, and compare the picks' normalised
// scores with the best single fixed candidate (chosen on the same training pairs) and with the
// per-pair oracle.
import type { Dataset, PairExample } from './dataset.js';
import { type TreeModel, fitGbt, predictGbt } from './gbt.js';
import { type LinearModel, fitRidge, predictRidge } from './ridge.js';

export type ModelKind = 'ridge' | 'gbt';

/**
 * Fits a predictor of what every candidate keeps of each side's ability: 2C targets, side a's
 * for the C candidates then side b's (the settings `tessera planner train` uses).
 */
export function fit(kind: ModelKind, examples: readonly PairExample[]): LinearModel | TreeModel {
  const xs = examples.map((e) => e.x),
    ys = examples.map((e) => [...e.sides[0], ...e.sides[1]]);
  return kind === 'ridge' ? fitRidge(xs, ys, 10) : fitGbt(xs, ys);
}

/** The 2C predictions (side a's, then side b's). */
export function predict(model: LinearModel | TreeModel, x: readonly number[]): number[] {
  return model.kind === 'ridge' ? predictRidge(model, x) : predictGbt(model, x);
}

/**
 * Per candidate, the weighted mean of the two sides' predictions (weights: the objective's, equal
 * by default). A predictor with one output per candidate gives the score itself.
 */
export function candidateScores(out: readonly number[], c: number, weights: readonly [number, number] = [1, 1]): number[] {
  if (out.length === c) return [...out];
  const w = weights[0] + weights[1] || 1;
  return Array.from({ length: c }, (_, k) => (weights[0] * out[k]! + weights[1] * out[c + k]!) / w);
}

export interface Evaluation {
  kind: ModelKind;
  scope: PairScope;
  pairs: number;
  /** mean normalised score of the planner's picks, the best fixed candidate's, the oracle's */
  planner: number;
  fixed: number;
  oracle: number;
  /** oracle − planner */
  regret: number;
  /** (planner − fixed) / (oracle − fixed) */
  gapClosure: number;
  /** the fixed candidate chosen most often over the folds */
  fixedCandidate: string;
}

const argmax = (v: readonly number[]) => v.reduce((best, x, i) => (x > v[best]! ? i : best), 0);
const mean = (v: readonly number[]) => v.reduce((s, x) => s + x, 0) / Math.max(v.length, 1);

/**
 * Which held-out pairs are scored: all, two experts of two tasks, two experts of one task, or a
 * running result of a k-way plan (two experts merged) and an expert.
 */
export type PairScope = 'all' | 'cross-task' | 'same-task' | 'steps';

const scopeOf = (e: PairExample): PairScope => (e.tasks.length > 2 ? 'steps' : e.tasks[0] === e.tasks[1] ? 'same-task' : 'cross-task');

export function leaveOneTaskOut(data: Dataset, kind: ModelKind, scope: PairScope = 'all'): Evaluation {
  const tasks = [...new Set(data.examples.flatMap((e) => e.tasks))].sort();
  const picks: number[] = [],
    fixed: number[] = [],
    oracle: number[] = [];
  const fixedNames = new Map<string, number>();
  for (const task of tasks) {
    const test = data.examples.filter((e) => e.tasks.includes(task) && (scope === 'all' || scope === scopeOf(e)));
    const trainSet = data.examples.filter((e) => !e.tasks.includes(task));
    if (test.length === 0 || trainSet.length === 0) continue;
    const model = fit(kind, trainSet);
    const best = argmax(data.candidates.map((_, k) => mean(trainSet.map((e) => e.y[k]!))));
    fixedNames.set(data.candidates[best]!, (fixedNames.get(data.candidates[best]!) ?? 0) + 1);
    for (const e of test) {
      picks.push(e.y[argmax(candidateScores(predict(model, e.x), data.candidates.length))]!);
      fixed.push(e.y[best]!);
      oracle.push(Math.max(...e.y));
    }
  }
  const [pl, fx, or] = [mean(picks), mean(fixed), mean(oracle)];
  return {
    kind,
    scope,
    pairs: picks.length,
    planner: pl,
    fixed: fx,
    oracle: or,
    regret: or - pl,
    gapClosure: or > fx ? (pl - fx) / (or - fx) : 0,
    fixedCandidate: [...fixedNames].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '',
  };
}
