// Validation of a safetensors header. Nothing read from the file is trusted: the header length,
// the JSON, every dtype, shape and offset are checked before any tensor byte is used.
import { SAFETENSORS_DTYPES } from '@tessera/tensor';
import { CheckpointError } from './errors.js';

/** Largest header accepted (the limit of the reference implementation). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorEntry {
  name: string;
  /** dtype as declared (any safetensors dtype) */
  dtype: string;
  shape: number[];
  numel: number;
  /** absolute byte offset of the first byte in the file */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  /** bytes before the data section (8 + header length) */
  dataStart: number;
  tensors: TensorEntry[];
  metadata: Record<string, string>;
}

/** Checks the 8-byte length prefix against the file size; returns the header length. */
export function headerLength(file: string, prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8) throw new CheckpointError(file, `file too small for a safetensors header (${fileSize} bytes)`);
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(fileSize - 8)) throw new CheckpointError(file, `header length ${n} exceeds the file size (${fileSize} bytes): truncated or not safetensors`);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new CheckpointError(file, `header length ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  if (n < 2n) throw new CheckpointError(file, `header length ${n} is too small for a JSON object`);
  return Number(n);
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parses and validates the JSON header of a file of `fileSize` bytes. */
export function parseHeader(file: string, json: Uint8Array, fileSize: number): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch (cause) {
    throw new CheckpointError(file, 'header is not valid UTF-8', undefined, { cause });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(file, `header is not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`, undefined, { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CheckpointError(file, 'header is not a JSON object');
  }
  const dataStart = 8 + json.byteLength;
  const dataSize = fileSize - dataStart;
  const tensors: TensorEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(file, value);
      continue;
    }
    const bad = (msg: string) => new CheckpointError(file, msg, name);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('entry is not an object');
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string') throw bad('missing dtype');
    const size = SAFETENSORS_DTYPES[dtype];
    if (size === undefined || !Object.hasOwn(SAFETENSORS_DTYPES, dtype)) throw bad(`unknown dtype ${JSON.stringify(dtype).slice(0, 40)}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) throw bad('shape must be a list of non-negative integers');
    if (shape.length > 16) throw bad(`shape has ${shape.length} dimensions`);
    let numel = 1;
    for (const d of shape as number[]) {
      numel *= d;
      if (!Number.isSafeInteger(numel)) throw bad(`shape ${JSON.stringify(shape)} is too large`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) throw bad('data_offsets must be [begin, end]');
    const [begin, end] = offsets as [number, number];
    if (begin > end) throw bad(`data_offsets [${begin}, ${end}] are reversed`);
    if (end > dataSize) throw bad(`data_offsets [${begin}, ${end}] run past the end of the data section (${dataSize} bytes)`);
    if (numel * size !== end - begin) {
      throw bad(`shape ${JSON.stringify(shape)} × ${size} bytes (${dtype}) = ${numel * size} bytes, but data_offsets span ${end - begin}`);
    }
    tensors.push({ name, dtype, shape: shape as number[], numel, offset: dataStart + begin, byteLength: end - begin });
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!,
      cur = sorted[i]!;
    if (cur.offset < prev.offset + prev.byteLength) {
      throw new CheckpointError(file, `data of ${cur.name} overlaps ${prev.name}`, cur.name);
    }
  }
  return { dataStart, tensors, metadata };
}

function parseMetadata(file: string, value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CheckpointError(file, '__metadata__ is not an object');
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new CheckpointError(file, `__metadata__.${k} is not a string`);
  }
  return value as Record<string, string>;
}
