// Greedy generation with a key/value cache: a prefill pass over the (right-padded) prompts that
// keeps every layer's keys and values, then one decoding step per new token for the whole batch,
// each sequence at its own position. Every layer stays loaded while decoding.
import { batches, makeBatch, rotaryTables } from './batch.js';
import { argmax } from './eval.js';
import type { DecodeStep, KvCache, LayerTensors, LlamaRuntime } from './runtime.js';

export interface GenerateOptions {
  maxNewTokens: number;
  /** stop a sequence after this token (default: the model's eos) */
  eos?: number;
  batchSize?: number;
}

export interface GenerateResult {
  /** generated tokens per prompt (up to and including EOS) */
  tokens: number[][];
  prefill: { tokens: number; seconds: number };
  decode: { tokens: number; seconds: number };
}

const MASKED = -1e9;

export async function generate(rt: LlamaRuntime, prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<GenerateResult> {
  const c = rt.config,
    V = c.vocabSize,
    eos = opts.eos ?? c.eos;
  const table = await rt.loadEmbedding();
  const head = await rt.loadHead();
  const layers: LayerTensors[] = [];
  for (let i = 0; i < c.layers; i++) layers.push(await rt.loadLayer(i));
  const out: number[][] = [];
  const prefill = { tokens: 0, seconds: 0 },
    decode = { tokens: 0, seconds: 0 };
  for (const group of batches(prompts, opts.batchSize ?? 16)) {
    let started = performance.now();
    const b = makeBatch(c, group);
    const B = b.size,
      T = b.length;
    let h = await rt.embed(table, b.ids);
    const caches: KvCache[] = [];
    for (const w of layers) {
      const r = await rt.layer(w, b, h, 'kv');
      h = r.hidden;
      caches.push(r.kv!);
    }
    let logits = (
      await rt.head(
        head,
        b,
        h,
        b.lengths.map((len, q) => q * T + len - 1),
        false,
      )
    ).logits;
    const generated = Array.from({ length: B }, (_, q) => [argmax(logits, q * V, V)]);
    const finished = generated.map((g) => g[0] === eos);
    prefill.tokens += b.lengths.reduce((n, x) => n + x, 0);
    prefill.seconds += (performance.now() - started) / 1000;
    started = performance.now();
    const rotary = rotaryTables(c, T + opts.maxNewTokens);
    for (let step = 1; step < opts.maxNewTokens && finished.some((f) => !f); step++) {
      const S = T + step,
        d = c.ropeDim;
      const positions = b.lengths.map((len) => len + step - 1);
      const bias = new Float32Array(B * S).fill(MASKED);
      const cos = new Float32Array(B * d),
        sin = new Float32Array(B * d);
      positions.forEach((p, q) => {
        for (let j = 0; j < S; j++) if (j < b.lengths[q]! || j >= T) bias[q * S + j] = 0;
        cos.set(rotary.cos.subarray(p * d, (p + 1) * d), q * d);
        sin.set(rotary.sin.subarray(p * d, (p + 1) * d), q * d);
      });
      const s: DecodeStep = { positions, bias, cos, sin };
      let x = await rt.embed(
        table,
        BigInt64Array.from(generated, (g) => BigInt(g[g.length - 1]!)),
      );
      for (const [l, w] of layers.entries()) {
        const r = await rt.decode(w, s, x, caches[l]!);
        x = r.hidden;
        caches[l] = r.kv;
      }
      logits = (
        await rt.head(
          head,
          b,
          x,
          generated.map((_, q) => q),
          false,
        )
      ).logits;
      for (let q = 0; q < B; q++) {
        if (finished[q]) continue;
        const t = argmax(logits, q * V, V);
        generated[q]!.push(t);
        finished[q] = t === eos;
        decode.tokens++;
      }
    }
    decode.seconds += (performance.now() - started) / 1000;
    out.push(...generated);
  }
  return { tokens: out, prefill, decode };
}
