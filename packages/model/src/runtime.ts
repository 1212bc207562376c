// A Llama-family model on onnxruntime-node, run stage by stage: the caller loads one layer's
// weights at a time and runs every batch through it, so any model size fits in memory.
import { availableParallelism } from 'node:os';
import { type Checkpoint, openCheckpoint } from '@tessera/checkpoint';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import type { Batch } from './batch.js';
import { Graph } from './graph.js';
import { ModelError } from './errors.js';
import { type LlamaConfig, llamaConfig } from './llama-config.js';
import { type LayerKind, layerInputs, layerKind, layerStats } from './layer-spec.js';
import { HEAD_STATS, type LayerOutputs, decodeLayerGraph, embedGraph, headGraph, layerGraph } from './llama-graphs.js';
import { WeightReader } from './weights.js';

export type Device = 'cpu' | 'cuda';

export interface RuntimeOptions {
  device?: Device;
  /**
   * onnxruntime intra-op threads, at most (default: the CPUs). Models narrower than
   * SMALL_HIDDEN run on one: their operators are too small for threads to pay.
   */
  threads?: number;
}

/** a layer's weights: its kind and the graph inputs by key (experts stacked) */
export interface LayerTensors {
  kind: LayerKind;
  inputs: Record<string, Tensor>;
}
export interface HeadTensors {
  norm: Tensor;
  lmHead: Tensor;
}

/** keys and values of a layer for every position so far: [B, kv heads, 1, positions, head dim] */
export interface KvCache {
  k: Tensor;
  v: Tensor;
}

/** the per-sequence inputs of one decoding step */
export interface DecodeStep {
  /** position of each sequence's new token */
  positions: number[];
  /** [B, S] additive mask over the S = cached + 1 positions */
  bias: Float32Array;
  /** [B, head dim] rotary tables at each sequence's position */
  cos: Float32Array;
  sin: Float32Array;
}

/** probe outputs of a layer: attention probabilities [B, heads, T, T], mean hidden state per sequence [B, hidden] */
export interface LayerProbe {
  attention: Float32Array;
  hidden: Float32Array;
}

/** per-sequence statistics of one stage: tensor name (within the layer) -> [B, channels] row-major */
export type StageStats = Map<string, Float32Array>;

type Stage = 'embed' | `layer-${LayerKind}-${LayerOutputs}` | `decode-${LayerKind}` | 'head' | 'head-stats';

export class LlamaRuntime {
  private readonly sessions = new Map<Stage, Promise<InferenceSession>>();
  private readonly weights: WeightReader;

  private constructor(
    readonly path: string,
    readonly checkpoint: Checkpoint,
    readonly config: LlamaConfig,
    private readonly opts: RuntimeOptions,
  ) {
    this.weights = new WeightReader(checkpoint);
  }

  /** intra-op threads the sessions use */
  get threads(): number {
    const max = this.opts.threads ?? availableParallelism();
    return this.config.hidden < SMALL_HIDDEN ? 1 : max;
  }

  static async open(path: string, opts: RuntimeOptions = {}): Promise<LlamaRuntime> {
    const ckpt = await openCheckpoint(path);
    return new LlamaRuntime(path, ckpt, llamaConfig(path, ckpt.config), opts);
  }

  private session(stage: Stage): Promise<InferenceSession> {
    let s = this.sessions.get(stage);
    if (!s) {
      const c = this.config;
      const [what, kind, outputs] = stage.split('-') as [string, LayerKind, LayerOutputs];
      const model =
        stage === 'embed'
          ? embedGraph(c)
          : what === 'decode'
            ? decodeLayerGraph(c, kind)
            : what === 'layer'
              ? layerGraph(c, kind, outputs)
              : headGraph(c, stage === 'head-stats');
      const device = this.opts.device ?? 'cpu';
      s = createSession(model, device, this.threads);
      this.sessions.set(stage, s);
    }
    return s;
  }

  /** a layer's weights as float32 graph inputs; the experts of a MoE layer stacked [experts, rows, cols] */
  async loadLayer(i: number): Promise<LayerTensors> {
    const kind = layerKind(this.config, i);
    const inputs: Record<string, Tensor> = {};
    for (const w of layerInputs(this.config, kind)) {
      const one = w.tensors.length === 1 ? w.shape : w.shape.slice(1);
      const size = one.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size * w.tensors.length);
      for (const [e, name] of w.tensors.entries()) data.set(await this.weights.read(`model.layers.${i}.${name}`, one), e * size);
      inputs[w.key] = new Tensor('float32', data, w.shape);
    }
    return { kind, inputs };
  }

  async loadEmbedding(): Promise<Tensor> {
    const shape = [this.config.vocabSize, this.config.hidden];
    return new Tensor('float32', await this.weights.read('model.embed_tokens.weight', shape), shape);
  }

  async loadHead(): Promise<HeadTensors> {
    const c = this.config,
      shape = [c.vocabSize, c.hidden];
    const name = c.tied || !this.weights.has('lm_head.weight') ? 'model.embed_tokens.weight' : 'lm_head.weight';
    return {
      norm: new Tensor('float32', await this.weights.read('model.norm.weight', [c.hidden]), [c.hidden]),
      lmHead: new Tensor('float32', await this.weights.read(name, shape), shape),
    };
  }

  /** hidden states [ids, hidden] of token ids */
  async embed(table: Tensor, ids: BigInt64Array): Promise<Float32Array> {
    const s = await this.session('embed');
    const r = await s.run({ embed: table, ids: new Tensor('int64', ids, [ids.length]) });
    return r.hidden!.data as Float32Array;
  }

  async layer(
    w: LayerTensors,
    batch: Batch,
    hidden: Float32Array,
    outputs: LayerOutputs,
  ): Promise<{ hidden: Float32Array; stats: StageStats; probe?: LayerProbe; kv?: KvCache }> {
    const s = await this.session(`layer-${w.kind}-${outputs}`);
    const feeds: Record<string, Tensor> = { ...this.batchFeeds(batch), hidden: this.hidden(hidden) };
    for (const [k, t] of Object.entries(w.inputs)) feeds[`w.${k}`] = t;
    const r = await s.run(pick(feeds, s.inputNames));
    const out: StageStats = new Map();
    if (outputs === 'stats') {
      for (const stat of layerStats(this.config, w.kind)) {
        const rows = r[`stat.${stat.key}`]!.data as Float32Array;
        if (!stat.perExpert) {
          for (const t of stat.tensors) out.set(t, rows);
          continue;
        }
        // [B, experts, width] -> per expert [B, width]
        const E = this.config.moe!.experts,
          B = rows.length / (E * stat.width);
        for (let e = 0; e < E; e++) {
          const mine = new Float32Array(B * stat.width);
          for (let q = 0; q < B; q++) mine.set(rows.subarray((q * E + e) * stat.width, (q * E + e + 1) * stat.width), q * stat.width);
          for (const t of stat.tensors) out.set(t.replace('{e}', String(e)), mine);
        }
      }
    }
    const probe = outputs === 'probe' ? { attention: r['probe.attention']!.data as Float32Array, hidden: r['probe.hidden']!.data as Float32Array } : undefined;
    return {
      hidden: r.hidden_out!.data as Float32Array,
      stats: out,
      ...(probe ? { probe } : {}),
      ...(outputs === 'kv' ? { kv: { k: r.present_k!, v: r.present_v! } } : {}),
    };
  }

  /** One decoding step of a layer: one token per sequence, attending to `past` (grown and returned). */
  async decode(w: LayerTensors, step: DecodeStep, hidden: Float32Array, past: KvCache): Promise<{ hidden: Float32Array; kv: KvCache }> {
    const s = await this.session(`decode-${w.kind}`);
    const c = this.config,
      B = step.positions.length,
      S = step.bias.length / B;
    const i64 = (v: number[]) => new Tensor('int64', BigInt64Array.from(v, BigInt), [v.length]);
    const feeds: Record<string, Tensor> = {
      hidden: new Tensor('float32', hidden, [B, c.hidden]),
      past_k: past.k,
      past_v: past.v,
      bias: new Tensor('float32', step.bias, [B, 1, 1, 1, S]),
      cos: new Tensor('float32', step.cos, [B, 1, 1, 1, c.ropeDim]),
      sin: new Tensor('float32', step.sin, [B, 1, 1, 1, c.ropeDim]),
      shape_q: i64([B, 1, c.kvHeads, c.heads / c.kvHeads, c.headDim]),
      shape_kv: i64([B, 1, c.kvHeads, 1, c.headDim]),
      shape_bt: i64([B, 1, -1]),
      shape_rows: i64([B, -1]),
      token_weight: new Tensor('float32', new Float32Array(B).fill(1), [B, 1, 1]),
    };
    for (const [k, t] of Object.entries(w.inputs)) feeds[`w.${k}`] = t;
    const r = await s.run(pick(feeds, s.inputNames));
    return { hidden: r.hidden_out!.data as Float32Array, kv: { k: r.present_k!, v: r.present_v! } };
  }

  /** logits [rows, vocab] of the selected flat rows (b * length + position) */
  async head(
    w: HeadTensors,
    batch: Batch,
    hidden: Float32Array,
    rows: readonly number[],
    stats: boolean,
  ): Promise<{ logits: Float32Array; stats: StageStats }> {
    const s = await this.session(stats ? 'head-stats' : 'head');
    const feeds: Record<string, Tensor> = {
      ...this.batchFeeds(batch),
      hidden: this.hidden(hidden),
      'w.norm': w.norm,
      'w.lm_head': w.lmHead,
      rows: new Tensor('int64', BigInt64Array.from(rows, BigInt), [rows.length]),
    };
    const r = await s.run(pick(feeds, s.inputNames));
    const out: StageStats = new Map();
    if (stats) for (const [name, k] of Object.entries(HEAD_STATS)) out.set(k, r[name]!.data as Float32Array);
    return { logits: r.logits!.data as Float32Array, stats: out };
  }

  private hidden(x: Float32Array): Tensor {
    return new Tensor('float32', x, [x.length / this.config.hidden, this.config.hidden]);
  }

  private batchFeeds(b: Batch): Record<string, Tensor> {
    const c = this.config,
      B = b.size,
      T = b.length;
    const i64 = (v: number[]) => new Tensor('int64', BigInt64Array.from(v, BigInt), [v.length]);
    return {
      bias: new Tensor('float32', b.bias, [B, 1, 1, T, T]),
      cos: new Tensor('float32', b.cos, [T, c.ropeDim]),
      sin: new Tensor('float32', b.sin, [T, c.ropeDim]),
      shape_q: i64([B, T, c.kvHeads, c.heads / c.kvHeads, c.headDim]),
      shape_kv: i64([B, T, c.kvHeads, 1, c.headDim]),
      shape_bt: i64([B, T, -1]),
      shape_rows: i64([B * T, -1]),
      token_weight: new Tensor('float32', b.tokenWeight, [B, T, 1]),
    };
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) await (await s.catch(() => undefined))?.release();
    this.sessions.clear();
    await this.weights.close();
  }
}

/** below this hidden size one thread is faster (zoo model, hidden 128: decoding 2.5k tok/s on 1 thread, 1.5k on 2) */
const SMALL_HIDDEN = 512;

function createSession(model: Uint8Array, device: Device, threads?: number): Promise<InferenceSession> {
  return InferenceSession.create(model, {
    executionProviders: [device],
    graphOptimizationLevel: 'all',
    ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
  }).catch((e: Error) => {
    throw device === 'cuda'
      ? new ModelError(
          '--device cuda',
          `onnxruntime's CUDA execution provider is not available (${e.message}); install onnxruntime-node with its CUDA binaries (without ONNXRUNTIME_NODE_INSTALL=skip) on a machine with a GPU`,
        )
      : e;
  });
}

/** Fails with a clear error unless onnxruntime can run a graph with its CUDA provider. */
export async function checkCuda(): Promise<void> {
  const g = new Graph('check');
  g.output(g.op('Neg', [g.input('x', [1])]), 'y', [1]);
  const s = await createSession(g.encode(), 'cuda');
  await s.release();
}

function pick(feeds: Record<string, Tensor>, names: readonly string[]): Record<string, Tensor> {
  return Object.fromEntries(names.map((n) => [n, feeds[n]!]));
}
