// Predictors as ONNX models, run by onnxruntime-node: a linear model as MatMul + Add (the
// standardisation folded into the weights), gradient-boosted trees as one ai.onnx.ml
// TreeEnsembleRegressor with a target per candidate. The candidates and feature names travel in
// the model's metadata, so a predictor trained elsewhere (e.g. exported from scikit-learn with
// the same metadata) drops in.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ModelError } from '@tessera/model/errors';
import type { TreeModel } from './gbt.js';
import type { LinearModel } from './ridge.js';

/** The predictor of pairs trained on the public zoo, shipped with Tessera (data/zoo-predictor.onnx: ridge regression). */
export const DEFAULT_PREDICTOR = fileURLToPath(new URL('../../../data/zoo-predictor.onnx', import.meta.url));

/**
 * The predictor of k-way plans shipped with Tessera (data/zoo-predictor-many.onnx: gradient-boosted
 * trees on the same outcomes). A plan's running results lie outside the range of the experts the
 * predictors learnt from; trees stay within the scores they saw where a linear model extrapolates.
 */
export const DEFAULT_MANY_PREDICTOR = fileURLToPath(new URL('../../../data/zoo-predictor-many.onnx', import.meta.url));

export interface PredictorMeta {
  candidates: string[];
  features: readonly string[];
}

async function build(model: LinearModel | TreeModel, meta: PredictorMeta): Promise<Uint8Array> {
  const { Graph } = await import('@tessera/model');
  const g = new Graph('tessera-planner');
  const x = g.input('features', ['N', meta.features.length]);
  // one output per candidate and side (side a's, then side b's), or one per candidate
  const c = model.kind === 'ridge' ? model.weights.length : model.trees.length,
    f = meta.features.length;
  let y: string;
  if (model.kind === 'ridge') {
    // y_k = b_k − Σ_j w_kj μ_j / σ_j + Σ_j (w_kj / σ_j) x_j
    const w: number[] = [];
    for (let j = 0; j < f; j++) for (let k = 0; k < c; k++) w.push(model.weights[k]![j]! / model.std[j]!);
    const b = model.bias.map((bk, k) => bk - model.weights[k]!.reduce((s, wj, j) => s + (wj * model.mean[j]!) / model.std[j]!, 0));
    y = g.op('Add', [g.op('MatMul', [x, g.constant(w, 'float', [f, c])]), g.constant(b, 'float', [c])]);
  } else {
    const a = {
      tree: [] as number[],
      node: [] as number[],
      feature: [] as number[],
      value: [] as number[],
      mode: [] as string[],
      yes: [] as number[],
      no: [] as number[],
    };
    const t = { tree: [] as number[], node: [] as number[], id: [] as number[], weight: [] as number[] };
    let treeId = 0;
    model.trees.forEach((list, k) => {
      for (const nodes of list) {
        nodes.forEach((n, i) => {
          a.tree.push(treeId);
          a.node.push(i);
          a.feature.push(Math.max(n.feature, 0));
          a.value.push(n.threshold);
          a.mode.push(n.feature < 0 ? 'LEAF' : 'BRANCH_LEQ');
          a.yes.push(Math.max(n.left, 0));
          a.no.push(Math.max(n.right, 0));
          if (n.feature < 0) {
            t.tree.push(treeId);
            t.node.push(i);
            t.id.push(k);
            t.weight.push(n.value);
          }
        });
        treeId++;
      }
    });
    y = g.op(
      'TreeEnsembleRegressor',
      [x],
      {
        n_targets: { i: c },
        nodes_treeids: { ints: a.tree },
        nodes_nodeids: { ints: a.node },
        nodes_featureids: { ints: a.feature },
        nodes_values: { floats: a.value },
        nodes_modes: { strings: a.mode },
        nodes_truenodeids: { ints: a.yes },
        nodes_falsenodeids: { ints: a.no },
        target_treeids: { ints: t.tree },
        target_nodeids: { ints: t.node },
        target_ids: { ints: t.id },
        target_weights: { floats: t.weight },
        base_values: { floats: model.base },
        aggregate_function: { s: 'SUM' },
        post_transform: { s: 'NONE' },
      },
      'ai.onnx.ml',
    );
  }
  g.output(y, 'scores', ['N', c]);
  return g.encode({
    opsets: [{ domain: 'ai.onnx.ml', version: 1 }],
    metadata: {
      'tessera.kind': 'merge-predictor',
      'tessera.model': model.kind,
      'tessera.outputs': c === 2 * meta.candidates.length ? 'sides' : 'score',
      'tessera.candidates': JSON.stringify(meta.candidates),
      'tessera.features': JSON.stringify(meta.features),
    },
  });
}

export async function writePredictor(path: string, model: LinearModel | TreeModel, meta: PredictorMeta): Promise<void> {
  await writeFile(`${path}.tmp`, await build(model, meta));
  await rename(`${path}.tmp`, path);
}

export interface OnnxPredictor extends PredictorMeta {
  /** the file it was read from */
  path: string;
  kind: string;
  /**
   * For each row of features: per candidate and side (side a's, then side b's), the predicted
   * share of that side's ability kept; or, for a predictor of the score alone, one per candidate.
   */
  predict(rows: readonly (readonly number[])[]): Promise<number[][]>;
  close(): Promise<void>;
}

export async function openPredictor(path: string): Promise<OnnxPredictor> {
  const m = await import('@tessera/model');
  const ort = await import('onnxruntime-node');
  let bytes: Uint8Array, meta: Record<string, string>, session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    bytes = await readFile(path);
    meta = m.modelMetadata(bytes);
    session = await ort.InferenceSession.create(bytes);
  } catch (e) {
    throw new ModelError(path, `not a readable ONNX predictor (${(e as Error).message.split('\n')[0]})`);
  }
  if (meta['tessera.kind'] !== 'merge-predictor') throw new ModelError(path, 'not a merge predictor (its metadata has no tessera.kind = merge-predictor)');
  const candidates = JSON.parse(meta['tessera.candidates'] ?? '[]') as string[];
  const features = JSON.parse(meta['tessera.features'] ?? '[]') as string[];
  return {
    path,
    kind: meta['tessera.model'] ?? 'onnx',
    candidates,
    features,
    async predict(rows) {
      const flat = Float32Array.from(rows.flat());
      const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', flat, [rows.length, features.length]) });
      const y = out[session.outputNames[0]!]!.data as Float32Array;
      const width = y.length / Math.max(rows.length, 1);
      return rows.map((_, i) => Array.from(y.subarray(i * width, (i + 1) * width)));
    },
    close: () => session.release(),
  };
}
