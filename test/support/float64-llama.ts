// An independent float64 forward pass of a Llama-architecture checkpoint, written from the zoo
// README's definition (RMSNorm, RoPE with rotate_half, grouped-query causal attention, SwiGLU):
// no ONNX, no code shared with the model runtime. It returns the logits and, per module, the
// mean over a sequence's tokens of |x| at the module's input (the activation statistics).
import { openCheckpoint, openSource } from '@tessera/checkpoint';

type Weights = Map<string, { shape: number[]; v: Float64Array }>;

export async function loadWeights(dir: string): Promise<{ w: Weights; config: Record<string, number> }> {
  const c = await openCheckpoint(dir);
  const w: Weights = new Map();
  for (const t of c.tensors.values()) {
    const bytes = new Uint8Array(t.byteLength);
    const s = openSource(t.file);
    await s.readInto(t.offset, bytes);
    await s.close();
    const v = new Float64Array(t.numel);
    const u16 = new Uint16Array(bytes.buffer),
      f = new Float32Array(1),
      u = new Uint32Array(f.buffer);
    for (let i = 0; i < t.numel; i++) {
      u[0] = u16[i]! << 16;
      v[i] = f[0]!;
    }
    w.set(t.name, { shape: t.shape, v });
  }
  return { w, config: c.config as Record<string, number> };
}

/** y[t] = x[t] W^T for W of shape [out, in]. */
function linear(x: Float64Array[], W: { shape: number[]; v: Float64Array }): Float64Array[] {
  const [out, inn] = W.shape as [number, number];
  return x.map((row) => {
    const y = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let i = 0; i < inn; i++) s += row[i]! * W.v[o * inn + i]!;
      y[o] = s;
    }
    return y;
  });
}

function rmsnorm(x: Float64Array[], g: Float64Array, eps: number): Float64Array[] {
  return x.map((row) => {
    let ms = 0;
    for (const v of row) ms += v * v;
    const r = 1 / Math.sqrt(ms / row.length + eps);
    return row.map((v, i) => v * r * g[i]!);
  });
}

/** Mean over tokens of |x|, per channel. */
function meanAbs(x: Float64Array[]): Float64Array {
  const m = new Float64Array(x[0]!.length);
  for (const row of x) for (let j = 0; j < row.length; j++) m[j]! += Math.abs(row[j]!);
  return m.map((v) => v / x.length);
}

export function forward64(w: Weights, config: Record<string, number>, ids: number[]): { logits: Float64Array[]; taps: Map<string, Float64Array> } {
  const H = config.hidden_size!,
    heads = config.num_attention_heads!,
    kvHeads = config.num_key_value_heads!,
    L = config.num_hidden_layers!;
  const hd = H / heads,
    eps = config.rms_norm_eps!,
    theta = config.rope_theta ?? 10000;
  const get = (n: string) => w.get(n)!;
  const taps = new Map<string, Float64Array>();
  const E = get('model.embed_tokens.weight');
  let x = ids.map((t) => E.v.slice(t * H, (t + 1) * H));
  const rope = (u: Float64Array, p: number, off: number) => {
    const half = hd / 2;
    const out = u.slice(off, off + hd);
    for (let i = 0; i < half; i++) {
      const f = p * theta ** (-(2 * i) / hd),
        c = Math.cos(f),
        s = Math.sin(f);
      const a = u[off + i]!,
        b = u[off + i + half]!;
      out[i] = a * c - b * s;
      out[i + half] = b * c + a * s;
    }
    return out;
  };
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    taps.set(`${p}input_layernorm.weight`, meanAbs(x));
    const n = rmsnorm(x, get(`${p}input_layernorm.weight`).v, eps);
    const inAttn = meanAbs(n);
    for (const k of ['q', 'k', 'v']) taps.set(`${p}self_attn.${k}_proj.weight`, inAttn);
    const q = linear(n, get(`${p}self_attn.q_proj.weight`)),
      k = linear(n, get(`${p}self_attn.k_proj.weight`)),
      v = linear(n, get(`${p}self_attn.v_proj.weight`));
    const T = ids.length;
    const att = Array.from({ length: T }, () => new Float64Array(H));
    for (let h = 0; h < heads; h++) {
      const g = Math.floor(h / (heads / kvHeads));
      const qs = q.map((r, t) => rope(r, t, h * hd)),
        ks = k.map((r, t) => rope(r, t, g * hd));
      for (let t = 0; t < T; t++) {
        const s = new Float64Array(t + 1);
        let mx = -Infinity;
        for (let u = 0; u <= t; u++) {
          let d = 0;
          for (let i = 0; i < hd; i++) d += qs[t]![i]! * ks[u]![i]!;
          s[u] = d / Math.sqrt(hd);
          mx = Math.max(mx, s[u]!);
        }
        let z = 0;
        for (let u = 0; u <= t; u++) {
          s[u] = Math.exp(s[u]! - mx);
          z += s[u]!;
        }
        for (let u = 0; u <= t; u++) for (let i = 0; i < hd; i++) att[t]![h * hd + i]! += (s[u]! / z) * v[u]![g * hd + i]!;
      }
    }
    taps.set(`${p}self_attn.o_proj.weight`, meanAbs(att));
    const o = linear(att, get(`${p}self_attn.o_proj.weight`));
    x = x.map((r, t) => r.map((val, i) => val + o[t]![i]!));
    taps.set(`${p}post_attention_layernorm.weight`, meanAbs(x));
    const n2 = rmsnorm(x, get(`${p}post_attention_layernorm.weight`).v, eps);
    const inMlp = meanAbs(n2);
    for (const k of ['gate', 'up']) taps.set(`${p}mlp.${k}_proj.weight`, inMlp);
    const gt = linear(n2, get(`${p}mlp.gate_proj.weight`)),
      up = linear(n2, get(`${p}mlp.up_proj.weight`));
    const hmid = gt.map((r, t) => r.map((z, i) => (z / (1 + Math.exp(-z))) * up[t]![i]!));
    taps.set(`${p}mlp.down_proj.weight`, meanAbs(hmid));
    const d = linear(hmid, get(`${p}mlp.down_proj.weight`));
    x = x.map((r, t) => r.map((val, i) => val + d[t]![i]!));
  }
  taps.set('model.norm.weight', meanAbs(x));
  const nf = rmsnorm(x, get('model.norm.weight').v, eps);
  taps.set('lm_head.weight', meanAbs(nf));
  return { logits: linear(nf, get('lm_head.weight')), taps };
}
