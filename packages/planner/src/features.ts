// The features of a pair of experts that the planner's predictor reads: from the structural
// signals overall and per layer.
import { type PairSignals, pairSignals, sums } from './signals.js';
import type { FunctionalSignals } from './functional.js';
import type { StructuralStats } from './structural.js';

export const FEATURES = [
  'cos',
  'weight_cos',
  'sign_agreement',
  'ties_conflict',
  'log_norm_ratio',
  'rel_a',
  'rel_b',
  'rel_max',
  'rel_min',
  'cos_layer_min',
  'cos_layer_max',
  'conflict_layer_max',
] as const;

export type Features = Record<(typeof FEATURES)[number], number>;

/** Features of experts a and b (indices into the statistics' models). */
export function pairFeatures(stats: StructuralStats, a: number, b: number): Features {
  const g = pairSignals(sums(stats), a, b);
  const layers = [...new Set(stats.tensors.map((t) => t.layer).filter((l): l is number => l !== undefined))];
  const per: PairSignals[] = layers.map((l) =>
    pairSignals(
      sums(stats, (t) => t.layer === l),
      a,
      b,
    ),
  );
  const finite = (xs: number[]) => xs.filter((x) => Number.isFinite(x));
  const cosL = finite(per.map((p) => p.cos)),
    confL = finite(per.map((p) => p.tiesConflict));
  return {
    cos: g.cos,
    weight_cos: g.weightCos,
    sign_agreement: g.signAgreement,
    ties_conflict: g.tiesConflict,
    log_norm_ratio: Math.log(g.normRatio),
    rel_a: g.relA,
    rel_b: g.relB,
    rel_max: Math.max(g.relA, g.relB),
    rel_min: Math.min(g.relA, g.relB),
    cos_layer_min: cosL.length ? Math.min(...cosL) : g.cos,
    cos_layer_max: cosL.length ? Math.max(...cosL) : g.cos,
    conflict_layer_max: confL.length ? Math.max(...confL) : g.tiesConflict,
  };
}

/**
 * Functional features of a pair, for predictors that read them (the shipped one does not: a k-way
 * plan's running result has no checkpoint to probe): means over prompts, layers and heads.
 */
export const FUNCTIONAL_FEATURES = ['kl_ab_mean', 'kl_ba_mean', 'kl_max_p90', 'top1_agreement', 'hidden_cos_mean', 'cka_mean', 'attention_cos_mean'] as const;

export function functionalFeatures(f: FunctionalSignals): Record<(typeof FUNCTIONAL_FEATURES)[number], number> {
  const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(xs.length, 1);
  return {
    kl_ab_mean: f.klAB.mean,
    kl_ba_mean: f.klBA.mean,
    kl_max_p90: Math.max(f.klAB.p90, f.klBA.p90),
    top1_agreement: f.top1Agreement,
    hidden_cos_mean: mean(f.hiddenCos),
    cka_mean: mean(f.cka),
    attention_cos_mean: mean(f.attentionCos.flat()),
  };
}
