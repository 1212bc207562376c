// Virtual checkpoints for scale tests: synthetic://llama-<size>?seed=S&model=M is a Llama-shaped
// model (and synthetic://deepseek-v3-671b, qwen3-moe-235b, mixtral-8x22b the mixture-of-experts
// layouts of synthetic-moe.ts) whose header is computed and whose bytes are generated on read,
// deterministically from (seed, model, byte position). model=0 is the base; model=k > 0 differs
// from it in the low mantissa bits of its elements (a small dense task vector). DeepSeek-V3's
// weights are FP8 with float32 block scales, as published.
import { CheckpointError } from './errors.js';
import type { RangeSource } from './source.js';
import { MOE_NAMES, type SyntheticTensor, moeFamily } from './synthetic-moe.js';

export interface LlamaShape {
  layers: number;
  hidden: number;
  intermediate: number;
  vocab: number;
  heads: number;
  kvHeads: number;
}

/** Llama 3.1 shapes (and smaller ones for quick runs). */
const SIZES: Record<string, LlamaShape> = {
  '405b': { layers: 126, hidden: 16384, intermediate: 53248, vocab: 128256, heads: 128, kvHeads: 8 },
  '70b': { layers: 80, hidden: 8192, intermediate: 28672, vocab: 128256, heads: 64, kvHeads: 8 },
  '8b': { layers: 32, hidden: 4096, intermediate: 14336, vocab: 128256, heads: 32, kvHeads: 8 },
  '1b': { layers: 16, hidden: 2048, intermediate: 8192, vocab: 32000, heads: 32, kvHeads: 8 },
  '100m': { layers: 8, hidden: 768, intermediate: 2048, vocab: 8192, heads: 12, kvHeads: 4 },
  tiny: { layers: 2, hidden: 256, intermediate: 512, vocab: 1024, heads: 4, kvHeads: 2 },
};

interface Spec {
  family: Family;
  seed: number;
  model: number;
  file: string;
}

interface Family {
  key: string;
  tensors: SyntheticTensor[];
  config: Record<string, unknown>;
}

const families = new Map<string, Family>();

function family(name: string): Family | undefined {
  let f = families.get(name);
  if (f) return f;
  const llama = /^llama-([a-z0-9]+)$/.exec(name);
  const shape = llama ? SIZES[llama[1]!] : undefined;
  const moe = shape ? undefined : moeFamily(name);
  if (shape) f = { key: name, tensors: llamaTensors(shape).map((t) => ({ ...t, dtype: 'BF16' as const })), config: syntheticConfig(shape) };
  else if (moe) f = { key: name, ...moe };
  if (f) families.set(name, f);
  return f;
}

function parse(uri: string): Spec {
  const [main, file = 'model.safetensors'] = uri.split('#') as [string, string?];
  const m = /^synthetic:\/\/([a-z0-9-]+)(?:\?(.*))?$/.exec(main);
  const f = m ? family(m[1]!) : undefined;
  if (!m || !f)
    throw new CheckpointError(uri, `unknown synthetic model (synthetic://<llama-<${Object.keys(SIZES).join('|')}>|${MOE_NAMES.join('|')}>?seed=S&model=M)`);
  const q = new URLSearchParams(m[2] ?? '');
  return { family: f, seed: Number(q.get('seed') ?? 1), model: Number(q.get('model') ?? 0), file };
}

/** The tensors of a Llama checkpoint of this shape, in Hugging Face order. */
export function llamaTensors(s: LlamaShape): { name: string; shape: number[] }[] {
  const head = s.hidden / s.heads;
  const t = [{ name: 'model.embed_tokens.weight', shape: [s.vocab, s.hidden] }];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}.`;
    t.push(
      { name: `${p}self_attn.q_proj.weight`, shape: [s.hidden, s.hidden] },
      { name: `${p}self_attn.k_proj.weight`, shape: [s.kvHeads * head, s.hidden] },
      { name: `${p}self_attn.v_proj.weight`, shape: [s.kvHeads * head, s.hidden] },
      { name: `${p}self_attn.o_proj.weight`, shape: [s.hidden, s.hidden] },
      { name: `${p}mlp.gate_proj.weight`, shape: [s.intermediate, s.hidden] },
      { name: `${p}mlp.up_proj.weight`, shape: [s.intermediate, s.hidden] },
      { name: `${p}mlp.down_proj.weight`, shape: [s.hidden, s.intermediate] },
      { name: `${p}input_layernorm.weight`, shape: [s.hidden] },
      { name: `${p}post_attention_layernorm.weight`, shape: [s.hidden] },
    );
  }
  t.push({ name: 'model.norm.weight', shape: [s.hidden] }, { name: 'lm_head.weight', shape: [s.vocab, s.hidden] });
  return t;
}

interface Layout {
  header: Uint8Array;
  /** data offsets of the tensors, and the end of the data */
  starts: number[];
  end: number;
}

const layouts = new Map<string, Layout>();

function layout(f: Family): Layout {
  let l = layouts.get(f.key);
  if (l) return l;
  const obj: Record<string, unknown> = { __metadata__: { format: 'pt', generator: 'tessera-synthetic' } };
  const starts: number[] = [];
  let pos = 0;
  for (const t of f.tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * ITEM[t.dtype];
    obj[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [pos, pos + bytes] };
    starts.push(pos);
    pos += bytes;
  }
  let json = JSON.stringify(obj);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const h = new Uint8Array(8 + json.length);
  new DataView(h.buffer).setBigUint64(0, BigInt(json.length), true);
  h.set(new TextEncoder().encode(json), 8);
  l = { header: h, starts, end: pos };
  layouts.set(f.key, l);
  return l;
}

const ITEM = { BF16: 2, F32: 4, F8_E4M3: 1 } as const;

/** 32-bit hash of (seed, i), and of it with the model number (what an expert changes). */
function hash(i: number, seed: number): number {
  let h = (Math.imul((i >>> 0) ^ Math.imul(seed, 0x9e3779b1), 0x85ebca6b) ^ Math.floor(i / 4294967296)) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  return (h ^ (h >>> 12)) >>> 0;
}

function modelHash(h: number, model: number): number {
  let g = (h ^ Math.imul(model, 0x27d4eb2f)) >>> 0;
  g ^= g >>> 15;
  g = Math.imul(g, 0x297a2d39) >>> 0;
  return (g ^ (g >>> 13)) >>> 0;
}

/**
 * FP8 (e4m3) bytes at data offsets o..o + out.length: each byte of a 32-bit hash of its word
 * (o / 4) gives a sign, an exponent field 2..5 (|value| 2^-5..2^-2, never NaN) and a mantissa; an
 * expert flips the lowest mantissa bit of some.
 */
function fp8Bytes(o: number, out: Uint8Array, seed: number, model: number): void {
  const byte = (bits: number) => (bits & 0x87) | ((((bits >>> 3) & 3) + 2) << 3);
  let j = 0;
  // a word's bytes from the first one asked for, then whole words
  while (j < out.length) {
    const at = (o + j) % 4;
    const h = hash(Math.floor((o + j) / 4), seed);
    const g = model > 0 ? modelHash(h, model) : 0;
    if (at === 0 && j + 4 <= out.length) {
      out[j] = byte(h & 0xff) ^ (g & 1);
      out[j + 1] = byte((h >>> 8) & 0xff) ^ ((g >>> 1) & 1);
      out[j + 2] = byte((h >>> 16) & 0xff) ^ ((g >>> 2) & 1);
      out[j + 3] = byte(h >>> 24) ^ ((g >>> 3) & 1);
      j += 4;
      continue;
    }
    for (let b = at; b < 4 && j < out.length; b++, j++) out[j] = byte((h >>> (8 * b)) & 0xff) ^ ((g >>> b) & 1);
  }
}

/** float32 word w (scales, biases): positive, 2^-9..2^-8, an expert's a little different. */
function f32Word(w: number, seed: number, model: number): number {
  const h = hash(w, seed);
  const x = 2 ** -9 * (1 + (h & 0xffff) / 65536) * (model > 0 ? 1 + (modelHash(h, model) & 7) / 64 : 1);
  return x;
}

/**
 * bf16 bits of elements e0, e0 + 1, ... of a synthetic model into `out` (|value| 2^-8..2^-5,
 * random sign): a 32-bit hash of (seed, element), and for model > 0 a second hash of it with the
 * model number that flips the three low mantissa bits.
 */
function fill(out: Uint16Array, e0: number, seed: number, model: number): void {
  const s = Math.imul(seed, 0x9e3779b1);
  const m = Math.imul(model, 0x27d4eb2f);
  for (let i = 0, e = e0; i < out.length; ) {
    // the element's high 32 bits are constant over a run
    const hi = Math.floor(e / 4294967296);
    const lo = e - hi * 4294967296;
    const run = Math.min(out.length - i, 4294967296 - lo);
    for (let j = 0; j < run; j++) {
      let h = Math.imul((lo + j) ^ s, 0x85ebca6b) ^ hi;
      h ^= h >>> 15;
      h = Math.imul(h, 0x2c1b3c6d);
      h ^= h >>> 12;
      let v = (h & 0x807f) | ((((h >>> 16) & 3) + 0x77) << 7);
      if (model > 0) {
        let g = h ^ m;
        g ^= g >>> 15;
        g = Math.imul(g, 0x297a2d39);
        g ^= g >>> 13;
        v ^= g & 7;
      }
      out[i + j] = v;
    }
    i += run;
    e += run;
  }
}

const one = new Uint16Array(1);
function element(e: number, seed: number, model: number): number {
  fill(one, e, seed, model);
  return one[0]!;
}

export class SyntheticFile implements RangeSource {
  private readonly spec: Spec;
  constructor(readonly uri: string) {
    this.spec = parse(uri);
    if (this.spec.file !== 'model.safetensors') throw new CheckpointError(uri, 'not found in a synthetic model');
  }

  async size(): Promise<number> {
    const l = layout(this.spec.family);
    return l.header.byteLength + l.end;
  }

  async readInto(position: number, into: Uint8Array): Promise<void> {
    this.readIntoSync(position, into);
  }

  readIntoSync(position: number, into: Uint8Array): void {
    const l = layout(this.spec.family);
    const h = l.header;
    const size = h.byteLength + l.end;
    if (position + into.byteLength > size) throw new CheckpointError(this.uri, `unexpected end of file at byte ${size}`);
    let i = 0;
    for (; i < into.byteLength && position + i < h.byteLength; i++) into[i] = h[position + i]!;
    // the tensor holding the first data byte, then tensor by tensor
    let k = 0;
    for (let lo = 0, hi = l.starts.length - 1, o = position + i - h.byteLength; lo <= hi; ) {
      const mid = (lo + hi) >>> 1;
      if (l.starts[mid]! <= o) [k, lo] = [mid, mid + 1];
      else hi = mid - 1;
    }
    while (i < into.byteLength) {
      const o = position + i - h.byteLength;
      const end = k + 1 < l.starts.length ? l.starts[k + 1]! : l.end;
      const count = Math.min(end - o, into.byteLength - i);
      this.generate(this.spec.family.tensors[k]!.dtype, o, into.subarray(i, i + count));
      i += count;
      k++;
    }
  }

  /** Bytes at data offsets [o, o + out.length) of a tensor of this dtype. */
  private generate(dtype: SyntheticTensor['dtype'], o: number, out: Uint8Array): void {
    const { seed, model } = this.spec;
    if (dtype === 'F8_E4M3') {
      fp8Bytes(o, out, seed, model);
      return;
    }
    if (dtype === 'F32') {
      const word = new DataView(new ArrayBuffer(4));
      for (let j = 0; j < out.length; ) {
        const w = Math.floor((o + j) / 4);
        word.setFloat32(0, f32Word(w, seed, model), true);
        for (let b = (o + j) % 4; b < 4 && j < out.length; b++, j++) out[j] = word.getUint8(b);
      }
      return;
    }
    // bf16: element e is at data bytes 2e, 2e + 1 (the same bytes whatever the tensor)
    let i = 0;
    if (o % 2 === 1) {
      out[i++] = element((o - 1) / 2, seed, model) >>> 8;
    }
    const count = Math.floor((out.length - i) / 2);
    if (count > 0) {
      const e0 = (o + i) / 2;
      if ((out.byteOffset + i) % 2 === 0) fill(new Uint16Array(out.buffer, out.byteOffset + i, count), e0, seed, model);
      else {
        const tmp = new Uint16Array(count);
        fill(tmp, e0, seed, model);
        out.set(new Uint8Array(tmp.buffer), i);
      }
      i += 2 * count;
    }
    if (i < out.length) out[i] = element((o + i) / 2, seed, model) & 0xff;
  }

  async close(): Promise<void> {}
}

/** config.json of a synthetic model (other files do not exist). */
export function syntheticText(uri: string): string | undefined {
  const spec = parse(uri);
  if (spec.file !== 'config.json') return undefined;
  return JSON.stringify(spec.family.config);
}

/** config.json of a Llama-shaped model. */
export function syntheticConfig(s: LlamaShape): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    vocab_size: s.vocab,
    rms_norm_eps: 1e-5,
    rope_theta: 500000,
    tie_word_embeddings: false,
    torch_dtype: 'bfloat16',
  };
}
