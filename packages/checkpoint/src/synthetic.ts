// Virtual checkpoints for scale tests: synthetic://llama-<size>?seed=S&model=M is a Llama-shaped
// model whose header is computed and whose bf16 bytes are generated on read, deterministically
// from (seed, model, element). model=0 is the base; model=k > 0 differs from it in the low
// mantissa bits of every element (a small dense task vector).
import { CheckpointError } from './errors.js';
import type { RangeSource } from './source.js';

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
  shape: LlamaShape;
  seed: number;
  model: number;
  file: string;
}

function parse(uri: string): Spec {
  const [main, file = 'model.safetensors'] = uri.split('#') as [string, string?];
  const m = /^synthetic:\/\/llama-([a-z0-9]+)(?:\?(.*))?$/.exec(main);
  const shape = m ? SIZES[m[1]!] : undefined;
  if (!m || !shape) throw new CheckpointError(uri, `unknown synthetic model (synthetic://llama-<${Object.keys(SIZES).join('|')}>?seed=S&model=M)`);
  const q = new URLSearchParams(m[2] ?? '');
  return { shape, seed: Number(q.get('seed') ?? 1), model: Number(q.get('model') ?? 0), file };
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

const headerCache = new Map<string, Uint8Array>();

function header(s: LlamaShape): Uint8Array {
  const key = JSON.stringify(s);
  let h = headerCache.get(key);
  if (h) return h;
  const obj: Record<string, unknown> = { __metadata__: { format: 'pt', generator: 'tessera-synthetic' } };
  let pos = 0;
  for (const t of llamaTensors(s)) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 2;
    obj[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [pos, pos + bytes] };
    pos += bytes;
  }
  let json = JSON.stringify(obj);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  h = new Uint8Array(8 + json.length);
  new DataView(h.buffer).setBigUint64(0, BigInt(json.length), true);
  h.set(new TextEncoder().encode(json), 8);
  headerCache.set(key, h);
  return h;
}

function dataBytes(s: LlamaShape): number {
  return llamaTensors(s).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1) * 2, 0);
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
    return header(this.spec.shape).byteLength + dataBytes(this.spec.shape);
  }

  async readInto(position: number, into: Uint8Array): Promise<void> {
    const h = header(this.spec.shape);
    const size = await this.size();
    if (position + into.byteLength > size) throw new CheckpointError(this.uri, `unexpected end of file at byte ${size}`);
    let i = 0;
    for (; i < into.byteLength && position + i < h.byteLength; i++) into[i] = h[position + i]!;
    const { seed, model } = this.spec;
    // an odd start (mid element) gets its high byte alone; then whole elements, two bytes each
    if (i < into.byteLength && (position + i - h.byteLength) % 2 === 1) {
      into[i] = element(Math.floor((position + i - h.byteLength) / 2), seed, model) >>> 8;
      i++;
    }
    // whole elements, two bytes each (little-endian), generated in place when aligned
    const count = Math.floor((into.byteLength - i) / 2);
    if (count > 0) {
      const e0 = (position + i - h.byteLength) / 2;
      if ((into.byteOffset + i) % 2 === 0) fill(new Uint16Array(into.buffer, into.byteOffset + i, count), e0, seed, model);
      else {
        const tmp = new Uint16Array(count);
        fill(tmp, e0, seed, model);
        into.set(new Uint8Array(tmp.buffer), i);
      }
      i += 2 * count;
    }
    if (i < into.byteLength) into[i] = element((position + i - h.byteLength) / 2, seed, model) & 0xff;
  }

  async close(): Promise<void> {}
}

/** config.json of a synthetic model (other files do not exist). */
export function syntheticText(uri: string): string | undefined {
  const spec = parse(uri);
  if (spec.file !== 'config.json') return undefined;
  return JSON.stringify(syntheticConfig(spec.shape));
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
