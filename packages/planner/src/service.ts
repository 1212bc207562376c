// The PlannerService's calls as plain functions (requests and responses in the .proto's field
// names); the gRPC servers (tessera planner serve, the coordinator) wire them with auth and TLS.
import type { Executor } from '@tessera/engine';
import { TesseraError } from '@tessera/tensor';
import { Bandit, loadBandit, saveBandit } from './bandit.js';
import { CANDIDATES } from './candidates.js';
import { pairFeatures } from './features.js';
import { planMany } from './plan-many.js';
import { planPair } from './plan.js';
import type { OnnxPredictor } from './predictor-onnx.js';
import { pairSignals, sums } from './signals.js';
import { structuralStats } from './structural.js';

/** Where the bandit's state lives between calls and restarts (a file, or a JetStream KV value). */
export interface BanditStore {
  load(): Promise<Bandit | undefined>;
  save(b: Bandit): Promise<void>;
}

export interface PlannerContext {
  executor: Executor;
  predictor: OnnxPredictor;
  /** the predictor of plans of more than two experts (default: `predictor`) */
  manyPredictor?: OnnxPredictor;
  bandit: BanditStore;
  /** checks a model path the request names (e.g. confinement to the server's roots); throws to refuse */
  checkPath?(path: string, what: string): Promise<void>;
}

type Req = Record<string, unknown>;

/** A request the planner cannot serve as it is (missing or bad fields). */
class PlanRequestError extends TesseraError {
  override readonly name = 'PlanRequestError';
  readonly kind = 'input';
}

function modelsOf(req: Req, min: number): { base: string; models: string[] } {
  const base = String(req.base ?? '');
  const models = (req.models as string[] | undefined) ?? [];
  if (!base) throw new PlanRequestError('base is required');
  if (models.length < min) throw new PlanRequestError(`${min} or more models are required, got ${models.length}`);
  return { base, models };
}

export function plannerHandlers(ctx: PlannerContext) {
  const check = async (base: string, models: string[]) => {
    if (!ctx.checkPath) return;
    await ctx.checkPath(base, 'base');
    for (const [i, m] of models.entries()) await ctx.checkPath(m, `models[${i}]`);
  };
  const bandit = async (xs: number[][]) => (await ctx.bandit.load()) ?? Bandit.create(ctx.predictor.candidates, xs);
  const featuresOf = async (base: string, a: string, b: string) => {
    const f = pairFeatures(await structuralStats(base, [a, b], { executor: ctx.executor }), 0, 1);
    return ctx.predictor.features.map((n) => f[n as keyof typeof f]);
  };
  return {
    async ListCandidates(): Promise<Req> {
      return { candidates: CANDIDATES.map((c) => c.name) };
    },
    async Signals(req: Req): Promise<Req> {
      const { base, models } = modelsOf(req, 2);
      await check(base, models);
      const s = sums(await structuralStats(base, models, { executor: ctx.executor }));
      const pairs: Req[] = [];
      for (let a = 0; a < models.length; a++) {
        for (let b = a + 1; b < models.length; b++) {
          const p = pairSignals(s, a, b);
          pairs.push({
            a,
            b,
            cos: p.cos,
            norm_a: p.normA,
            norm_b: p.normB,
            norm_ratio: p.normRatio,
            rel_a: p.relA,
            rel_b: p.relB,
            sign_agreement: p.signAgreement,
            ties_conflict: p.tiesConflict,
            weight_cos: p.weightCos,
          });
        }
      }
      return { pairs };
    },
    async Plan(req: Req): Promise<Req> {
      const { base, models } = modelsOf(req, 2);
      await check(base, models);
      if (models.length > 2) {
        const p = await planMany(base, models, { executor: ctx.executor, predictor: ctx.manyPredictor ?? ctx.predictor });
        return {
          recipe: p.recipe,
          candidate: '',
          used: p.used,
          steps: p.steps.map((s) => ({ from: s.from, add: s.add, candidate: s.candidate, score: s.score })),
          predictions: [],
          features: {},
        };
      }
      const p = await planPair(base, models[0]!, models[1]!, { executor: ctx.executor, predictor: ctx.predictor });
      if (req.explore === true) {
        // the bandit chooses (it explores where it is unsure); the recipe follows its choice
        const x = ctx.predictor.features.map((n) => p.features[n]!);
        const chosen = (await bandit([x])).choose(x, ctx.predictor.candidates);
        const again = await planPair(base, models[0]!, models[1]!, {
          executor: ctx.executor,
          predictor: { ...ctx.predictor, predict: async (rows) => rows.map(() => ctx.predictor.candidates.map((c) => (c === chosen ? 1 : 0))) },
        });
        return { recipe: again.recipe, candidate: chosen, used: models, steps: [], predictions: p.predictions, features: p.features };
      }
      return { recipe: p.recipe, candidate: p.candidate, used: models, steps: [], predictions: p.predictions, features: p.features };
    },
    async ReportOutcome(req: Req): Promise<Req> {
      const base = String(req.base ?? ''),
        a = String(req.model_a ?? ''),
        b = String(req.model_b ?? ''),
        candidate = String(req.candidate ?? '');
      const score = Number(req.score);
      if (!base || !a || !b || !candidate) throw new PlanRequestError('base, model_a, model_b and candidate are required');
      if (!Number.isFinite(score)) throw new PlanRequestError(`score must be a number, got ${String(req.score)}`);
      await check(base, [a, b]);
      const x = await featuresOf(base, a, b);
      const bd = await bandit([x]);
      bd.report(x, candidate, score);
      await ctx.bandit.save(bd);
      return { pulls: bd.state.arms[candidate]!.pulls };
    },
  };
}

/** The bandit's state in a JSON file (embedded mode). */
export function fileBanditStore(path: string): BanditStore {
  return {
    load: async () => ((await import('node:fs')).existsSync(path) ? loadBandit(path) : undefined),
    save: (b) => saveBandit(path, b),
  };
}
