// Mutations of a real safetensors file for the reader's fuzz test (modest count in the test
// suite, a long run in the benchmark). Every mutated file must end in a CheckpointError or in
// a correct read; anything else (another error, a crash, a hang) is a bug.
import { CheckpointError, openSource, readHeader } from '@tessera/checkpoint';

export type Mutation = { kind: string; bytes: Uint8Array };

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function withHeader(json: string | Uint8Array, data: Uint8Array, lengthOverride?: bigint): Uint8Array {
  const h = typeof json === 'string' ? new TextEncoder().encode(json) : json;
  const out = new Uint8Array(8 + h.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(h.byteLength), true);
  out.set(h, 8);
  out.set(data, 8 + h.byteLength);
  return out;
}

const KINDS = ['bitflip-header', 'bitflip-any', 'truncate', 'header-length', 'nested-json', 'huge-json', 'offsets', 'shape', 'dtype', 'garbage'] as const;

/** `count` mutations of `original` (a valid safetensors file), deterministic for a seed. */
export function* mutations(original: Uint8Array, seed: number, count: number): Generator<Mutation> {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const n = Number(new DataView(original.buffer, original.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(original.subarray(8, 8 + n))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const data = original.subarray(8 + n);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  for (let i = 0; i < count; i++) {
    const kind = KINDS[i % KINDS.length]!;
    const bytes = new Uint8Array(original); // a copy (Buffer#slice would share memory)
    switch (kind) {
      case 'bitflip-header':
      case 'bitflip-any': {
        const span = kind === 'bitflip-header' ? 8 + n : bytes.byteLength;
        for (let f = 1 + int(8); f > 0; f--) {
          const p = int(span);
          bytes[p] = bytes[p]! ^ (1 << int(8));
        }
        yield { kind, bytes };
        break;
      }
      case 'truncate':
        yield { kind, bytes: bytes.subarray(0, int(bytes.byteLength)) };
        break;
      case 'header-length': {
        const choices = [
          2n ** 64n - 1n - BigInt(int(1000)),
          2n ** 63n + BigInt(int(1000)),
          BigInt(bytes.byteLength - 8 + int(3)),
          BigInt(n + 1),
          BigInt(n - 1 - int(8)),
          0n,
          1n,
          BigInt(int(2 ** 31)),
        ];
        new DataView(bytes.buffer).setBigUint64(0, choices[int(choices.length)]!, true);
        yield { kind, bytes };
        break;
      }
      case 'nested-json': {
        const depth = 1000 + int(500_000);
        const open = r() < 0.5 ? '['.repeat(depth) : '{"a":'.repeat(depth);
        yield { kind, bytes: withHeader(open + (r() < 0.5 ? (open[0] === '[' ? ']' : '}').repeat(depth) : ''), data) };
        break;
      }
      case 'huge-json': {
        const h: Record<string, unknown> = { ...header };
        const extra = 1000 + int(50_000);
        for (let k = 0; k < extra; k++) h[`x${k}.${'y'.repeat(int(50))}`] = { dtype: 'F32', shape: [0], data_offsets: [0, 0] };
        if (r() < 0.3) h.__metadata__ = { note: 'z'.repeat(int(2_000_000)) };
        yield { kind, bytes: withHeader(JSON.stringify(h), data) };
        break;
      }
      case 'offsets': {
        const h = structuredClone(header);
        const t = h[names[int(names.length)]!]!;
        const [b, e] = t.data_offsets;
        const variants: [number, number][] = [
          [b - 2, e - 2],
          [b + 1, e + 1],
          [e, b],
          [0, e - b],
          [b, data.byteLength + 1 + int(10)],
          [2 ** 53, 2 ** 53 + (e - b)],
          [b, e + 2 ** 40],
        ];
        t.data_offsets = variants[int(variants.length)]!;
        yield { kind, bytes: withHeader(JSON.stringify(h), data) };
        break;
      }
      case 'shape': {
        const h = structuredClone(header);
        const t = h[names[int(names.length)]!]!;
        const variants: unknown[] = [[...t.shape, 2], [t.shape[0]! + 1], [], [-1], [1e300], [2 ** 52, 2 ** 52], 'abc', [0.5], Array(40).fill(1)];
        (t as { shape: unknown }).shape = variants[int(variants.length)];
        yield { kind, bytes: withHeader(JSON.stringify(h), data) };
        break;
      }
      case 'dtype': {
        const h = structuredClone(header);
        const t = h[names[int(names.length)]!]!;
        const variants = ['F8', 'bf16', 'I64', 'F64', 'U8', '', 'BOOL', '__proto__', 'toString', 'constructor'];
        t.dtype = variants[int(variants.length)]!;
        yield { kind, bytes: withHeader(JSON.stringify(h), data) };
        break;
      }
      case 'garbage': {
        const len = 1 + int(4096);
        const g = new Uint8Array(len);
        for (let k = 0; k < len; k++) g[k] = int(256);
        // raw bytes, most of them not UTF-8 (decoding them to a string first would repair them)
        yield { kind, bytes: withHeader(g, data) };
        break;
      }
    }
  }
}

/** Reads a file the way merges do; returns whether it was accepted. Throws on any non-typed failure. */
export async function readOrReject(path: string, fileSize: number, onReject?: (e: CheckpointError) => void): Promise<'read' | 'rejected'> {
  const src = openSource(path);
  try {
    const h = await readHeader(src);
    const spans = h.tensors
      .filter((t) => t.byteLength > 0)
      .map((t) => [t.offset, t.offset + t.byteLength] as const)
      .sort((a, b) => a[0] - b[0]);
    for (const [b, e] of spans) if (b < h.dataStart || e > fileSize) throw new Error(`accepted a tensor outside the file: [${b}, ${e})`);
    for (let i = 1; i < spans.length; i++) if (spans[i]![0] < spans[i - 1]![1]) throw new Error('accepted overlapping tensors');
    for (const t of h.tensors) await src.readInto(t.offset, new Uint8Array(t.byteLength));
    return 'read';
  } catch (e) {
    if (e instanceof CheckpointError) {
      onReject?.(e);
      return 'rejected';
    }
    throw e;
  } finally {
    await src.close();
  }
}
