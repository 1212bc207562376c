// A simulated stream of merge requests replayed from collected outcomes: each request is a pair
// drawn at random; a policy picks a candidate and receives that candidate's measured score.
// Cumulative regret against the per-pair best compares the bandit with uniform random choice and
// with the offline predictor; a candidate withheld from the first half shows whether the bandit
// adopts a newcomer where it wins.
import { Bandit } from './bandit.js';
import type { Dataset } from './dataset.js';
import { candidateScores, fit, predict } from './evaluate.js';
import { seeded } from './random.js';

export interface StreamResult {
  steps: number;
  /** cumulative regret at the end, per policy */
  bandit: number;
  random: number;
  offline: number;
  /** the candidate added mid-stream: how often the bandit chose it where it was the best, and where it was not */
  newcomer: { candidate: string; chosenWhereBest: number; bestAfterAdded: number; chosenElsewhere: number; stepsAfterAdded: number };
}

export function simulateStream(data: Dataset, opts: { steps?: number; seed?: number; newcomer?: string } = {}): StreamResult {
  const steps = opts.steps ?? 4000;
  const rand = seeded(opts.seed ?? 1);
  const newcomer = opts.newcomer ?? data.candidates[0]!;
  const start = data.candidates.filter((c) => c !== newcomer);
  const bandit = Bandit.create(
    start,
    data.examples.map((e) => e.x),
  );
  // the offline predictor: trained on every pair (an upper reference the bandit approaches)
  const offline = fit('gbt', data.examples);
  const index = new Map(data.candidates.map((c, k) => [c, k]));
  const out = { bandit: 0, random: 0, offline: 0 };
  const nc = { chosenWhereBest: 0, bestAfterAdded: 0, chosenElsewhere: 0, stepsAfterAdded: 0 };
  for (let t = 0; t < steps; t++) {
    if (t === Math.floor(steps / 2)) bandit.addCandidate(newcomer);
    const e = data.examples[Math.floor(rand() * data.examples.length)]!;
    const best = Math.max(...e.y);
    const allowed = t < steps / 2 ? start : data.candidates;
    const pick = bandit.choose(e.x, allowed);
    const reward = e.y[index.get(pick)!]!;
    bandit.report(e.x, pick, reward);
    out.bandit += best - reward;
    out.random += best - e.y[index.get(allowed[Math.floor(rand() * allowed.length)]!)!]!;
    const p = candidateScores(predict(offline, e.x), data.candidates.length);
    out.offline += best - e.y[p.reduce((bi, v, i) => (v > p[bi]! ? i : bi), 0)]!;
    if (t >= steps / 2) {
      nc.stepsAfterAdded++;
      const newIsBest = e.y[index.get(newcomer)!] === best;
      if (newIsBest) nc.bestAfterAdded++;
      if (pick === newcomer) newIsBest ? nc.chosenWhereBest++ : nc.chosenElsewhere++;
    }
  }
  return { steps, ...out, newcomer: { candidate: newcomer, ...nc } };
}
