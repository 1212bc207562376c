// Planning a merge of two experts: their structural signals, the predicted normalised score of
// every candidate, and the recipe of the best one (keeping one expert is a one-model passthrough
// recipe, runnable by tessera merge as it is).
import { predictionsComment } from './predictions-comment.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Executor } from '@tessera/engine';
import { ModelError } from '@tessera/model/errors';
import { CANDIDATES } from './candidates.js';
import { FUNCTIONAL_FEATURES, functionalFeatures, pairFeatures } from './features.js';
import { DEFAULT_PROBES, probeSignals } from './functional.js';
import { candidateScores } from './evaluate.js';
import type { OnnxPredictor } from './predictor-onnx.js';
import { structuralStats } from './structural.js';

export interface PairPlan {
  base: string;
  models: [string, string];
  /** the chosen candidate and its predicted score */
  candidate: string;
  score: number;
  /** every candidate's predicted score, best first */
  predictions: { candidate: string; score: number }[];
  features: Record<string, number>;
  /** the recipe of the chosen candidate (YAML) */
  recipe: string;
}

export async function planPair(
  base: string,
  a: string,
  b: string,
  opts: {
    executor: Executor;
    predictor: OnnxPredictor;
    signal?: AbortSignal;
    /** signals from this many evenly spaced decoder layers (default: every tensor) */
    layers?: number;
    /** prompts for the functional signals (needed when the predictor reads them; default: the generic set shipped) */
    probes?: string;
    /** where probe representations are written while they are computed (default: the system's temporary folder) */
    workDir?: string;
    /** the objective: how much each expert's ability counts (default: equally) */
    weights?: [number, number];
  },
): Promise<PairPlan> {
  const stats = await structuralStats(base, [a, b], {
    executor: opts.executor,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.layers !== undefined ? { layers: opts.layers } : {}),
  });
  const features: Record<string, number> = { ...pairFeatures(stats, 0, 1) };
  // the functional signals when asked for, or when the predictor reads them
  if (opts.probes !== undefined || opts.predictor.features.some((f) => (FUNCTIONAL_FEATURES as readonly string[]).includes(f))) {
    const workDir = await mkdtemp(join(opts.workDir ?? tmpdir(), 'tessera-probes-'));
    try {
      const [pair] = await probeSignals([a, b], opts.probes ?? DEFAULT_PROBES, {
        executor: opts.executor,
        workDir,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      Object.assign(features, functionalFeatures(pair!.signals));
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }
  const missing = opts.predictor.features.filter((f) => !(f in features));
  if (missing.length > 0) throw new ModelError(opts.predictor.path, `reads features this planner does not compute: ${missing.join(', ')}`);
  const [raw] = await opts.predictor.predict([opts.predictor.features.map((f) => features[f]!)]);
  const scores = candidateScores(raw!, opts.predictor.candidates.length, opts.weights);
  const predictions = opts.predictor.candidates
    .map((candidate, k) => ({ candidate, score: scores[k]! }))
    .filter((p) => CANDIDATES.some((c) => c.name === p.candidate))
    .sort((x, y) => y.score - x.score);
  const best = predictions[0];
  if (!best) throw new Error('the predictor scores no candidate this planner knows');
  const c = CANDIDATES.find((x) => x.name === best.candidate)!;
  const kept = c.keep === 0 ? a : b;
  const recipe = c.recipe ? c.recipe(base, [a, b]) : `merge_method: passthrough\nmodels:\n  - model: ${JSON.stringify(kept)}\n`;
  const header =
    `# planned by tessera: ${best.candidate} (predicted normalised score ${best.score.toFixed(3)})\n# ${predictions.map((p) => `${p.candidate} ${p.score.toFixed(3)}`).join(', ')}\n` +
    predictionsComment([{ step: `${a.split('/').pop()} + ${b.split('/').pop()}`, chosen: best.candidate, candidates: predictions }]);
  return { base, models: [a, b], candidate: best.candidate, score: best.score, predictions, features, recipe: header + recipe };
}
