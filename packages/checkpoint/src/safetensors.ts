import { CheckpointError } from './errors.js';
import { type SafetensorsHeader, headerLength, parseHeader } from './header.js';
import type { RangeSource } from './source.js';

/** Reads and validates the header of a safetensors file. */
export async function readHeader(src: RangeSource): Promise<SafetensorsHeader> {
  const size = await src.size();
  const prefix = new Uint8Array(8);
  if (size < 8) throw new CheckpointError(src.uri, `file too small for a safetensors header (${size} bytes)`);
  await src.readInto(0, prefix);
  const n = headerLength(src.uri, prefix, size);
  const json = new Uint8Array(n);
  await src.readInto(8, json);
  return parseHeader(src.uri, json, size);
}
