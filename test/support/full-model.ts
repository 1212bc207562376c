// A direct computation of activation statistics: the whole model as one ONNX graph, every
// sequence in one batch, no layer split; per-sequence rows summed in float64 in sequence order.
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { Graph, LlamaRuntime, addLayer, batchInputs, layerStats, makeBatch, rmsnorm } from '@tessera/model';

export async function directStats(model: string, seqs: number[][]): Promise<Map<string, Float64Array>> {
  const rt = await LlamaRuntime.open(model);
  const c = rt.config;
  const g = new Graph('full');
  const b = batchInputs(g, c);
  const embed = g.input('embed', [c.vocabSize, c.hidden]);
  let x = g.op('Gather', [embed, g.input('ids', ['N'], 'int64')], { axis: { i: 0 } });
  const feeds: Record<string, Tensor> = { embed: await rt.loadEmbedding() };
  const outputs = new Map<string, string>();
  for (let i = 0; i < c.layers; i++) {
    const w = await rt.loadLayer(i);
    const names = Object.fromEntries(
      Object.entries(w.inputs).map(([k, t]) => {
        feeds[`l${i}.${k}`] = t;
        return [k, g.input(`l${i}.${k}`, [...t.dims])];
      }),
    );
    const stats = layerStats(c, w.kind);
    x = addLayer(g, c, w.kind, x, names, b, {
      stat: (key, v) => {
        for (const t of stats.find((s) => s.key === key)?.tensors ?? []) outputs.set(`model.layers.${i}.${t}`, `l${i}.${key}`);
        g.output(v, `l${i}.${key}`, ['B', 'C']);
      },
    });
  }
  const head = await rt.loadHead();
  feeds['w.norm'] = head.norm;
  const normed = rmsnorm(g, x, g.input('w.norm', [c.hidden]), c.eps);
  const mean = (v: string) =>
    g.op('ReduceSum', [g.op('Mul', [g.op('Reshape', [g.op('Abs', [v]), b.shapeBt]), b.tokenWeight]), g.ints([1])], { keepdims: { i: 0 } });
  g.output(mean(x), 'final', ['B', c.hidden]);
  g.output(mean(normed), 'head_in', ['B', c.hidden]);
  outputs.set('model.norm.weight', 'final');
  if (!c.tied) outputs.set('lm_head.weight', 'head_in');
  const batch = makeBatch(c, seqs);
  const B = batch.size,
    T = batch.length;
  const i64 = (v: number[]) => new Tensor('int64', BigInt64Array.from(v, BigInt), [v.length]);
  Object.assign(feeds, {
    ids: new Tensor('int64', batch.ids, [B * T]),
    bias: new Tensor('float32', batch.bias, [B, 1, 1, T, T]),
    cos: new Tensor('float32', batch.cos, [T, c.ropeDim]),
    sin: new Tensor('float32', batch.sin, [T, c.ropeDim]),
    shape_q: i64([B, T, c.kvHeads, c.heads / c.kvHeads, c.headDim]),
    shape_kv: i64([B, T, c.kvHeads, 1, c.headDim]),
    shape_bt: i64([B, T, -1]),
    shape_rows: i64([B * T, -1]),
    token_weight: new Tensor('float32', batch.tokenWeight, [B, T, 1]),
  });
  const s = await InferenceSession.create(g.encode());
  const r = await s.run(Object.fromEntries(s.inputNames.map((n) => [n, feeds[n]!])));
  const out = new Map<string, Float64Array>();
  for (const [tensor, name] of outputs) {
    const rows = r[name]!.data as Float32Array,
      width = rows.length / B;
    const sum = new Float64Array(width);
    for (let q = 0; q < B; q++) for (let j = 0; j < width; j++) sum[j]! += rows[q * width + j]!;
    out.set(tensor, sum);
  }
  await s.release();
  await rt.close();
  return out;
}
