// The output's layout is decided before any merge task runs: every tensor's file and byte
// offset, and every file's header and size. Tasks then write slices at fixed positions.
import { SAFETENSORS_DTYPES } from '@tessera/tensor';
import { SINGLE_FILE } from './checkpoint.js';

export interface OutputTensor {
  name: string;
  dtype: string;
  shape: number[];
}

export interface PlacedTensor extends OutputTensor {
  /** absolute byte offset in its file */
  offset: number;
  byteLength: number;
}

export interface OutputFile {
  name: string;
  header: Uint8Array;
  size: number;
  tensors: PlacedTensor[];
}

export interface OutputLayout {
  files: OutputFile[];
  /** model.safetensors.index.json content when there are several files */
  index: { metadata: { total_size: number }; weight_map: Record<string, string> } | undefined;
  totalBytes: number;
}

/** Default shard size, as Hugging Face's save_pretrained (5 GB). */
export const DEFAULT_SHARD_BYTES = 5_000_000_000;

const shardName = (i: number, n: number) => `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;

/** Lays out tensors (in order) into files of at most `shardBytes` of data (a larger tensor gets a file of its own). */
export function planOutput(tensors: OutputTensor[], shardBytes = DEFAULT_SHARD_BYTES): OutputLayout {
  const groups: OutputTensor[][] = [[]];
  let used = 0;
  for (const t of tensors) {
    const bytes = byteLengthOf(t);
    if (used > 0 && used + bytes > shardBytes) {
      groups.push([]);
      used = 0;
    }
    groups[groups.length - 1]!.push(t);
    used += bytes;
  }
  const names = groups.length === 1 ? [SINGLE_FILE] : groups.map((_, i) => shardName(i, groups.length));
  const files = groups.map((g, i) => layoutFile(names[i]!, g));
  const totalBytes = files.reduce((s, f) => s + f.tensors.reduce((a, t) => a + t.byteLength, 0), 0);
  const index =
    files.length > 1
      ? { metadata: { total_size: totalBytes }, weight_map: Object.fromEntries(files.flatMap((f) => f.tensors.map((t) => [t.name, f.name]))) }
      : undefined;
  return { files, index, totalBytes };
}

function byteLengthOf(t: OutputTensor): number {
  const size = SAFETENSORS_DTYPES[t.dtype];
  if (size === undefined) throw new Error(`unknown dtype ${t.dtype}`);
  return t.shape.reduce((a, b) => a * b, 1) * size;
}

function layoutFile(name: string, tensors: OutputTensor[]): OutputFile {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let pos = 0;
  const rel = tensors.map((t) => {
    const byteLength = byteLengthOf(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [pos, pos + byteLength] };
    const r = { ...t, begin: pos, byteLength };
    pos += byteLength;
    return r;
  });
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const jsonBytes = new TextEncoder().encode(json);
  const headerBytes = new Uint8Array(8 + jsonBytes.byteLength);
  new DataView(headerBytes.buffer).setBigUint64(0, BigInt(jsonBytes.byteLength), true);
  headerBytes.set(jsonBytes, 8);
  const dataStart = headerBytes.byteLength;
  return {
    name,
    header: headerBytes,
    size: dataStart + pos,
    tensors: rel.map(({ begin, ...t }) => ({ ...t, offset: dataStart + begin })),
  };
}
