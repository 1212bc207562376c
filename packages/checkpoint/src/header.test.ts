import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from './errors.js';
import { readHeader } from './safetensors.js';
import { openSource } from './source.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-header-'));

/** A safetensors file from a header object (or raw header text) and a data section size. */
function file(header: unknown, dataBytes: number, lengthOverride?: bigint): string {
  const bytes = header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const buf = new Uint8Array(8 + bytes.byteLength + dataBytes);
  new DataView(buf.buffer).setBigUint64(0, lengthOverride ?? BigInt(bytes.byteLength), true);
  buf.set(bytes, 8);
  const path = join(dir, `f${Math.random().toString(36).slice(2)}.safetensors`);
  writeFileSync(path, buf);
  return path;
}

async function error(path: string): Promise<CheckpointError> {
  const src = openSource(path);
  try {
    await readHeader(src);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as CheckpointError).file).toBe(path);
    return e as CheckpointError;
  } finally {
    await src.close();
  }
  throw new Error('expected a CheckpointError');
}

const ok = { a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }, b: { dtype: 'BF16', shape: [3], data_offsets: [16, 22] } };

describe('safetensors header validation', () => {
  it('reads a valid header with absolute offsets', async () => {
    const path = file({ __metadata__: { format: 'pt' }, ...ok }, 22);
    const h = await readHeader(openSource(path));
    const start = 8 + JSON.stringify({ __metadata__: { format: 'pt' }, ...ok }).length;
    expect(h.tensors.map((t) => [t.name, t.offset, t.byteLength, t.numel])).toEqual([
      ['a', start, 16, 4],
      ['b', start + 16, 6, 3],
    ]);
    expect(h.metadata).toEqual({ format: 'pt' });
  });
  it('rejects a file shorter than the length prefix', async () => {
    const path = join(dir, 'tiny');
    writeFileSync(path, new Uint8Array(5));
    expect((await error(path)).message).toMatch(/too small/);
  });
  it('rejects a header length past the end of the file, up to 2^64 - 1', async () => {
    for (const n of [1_000_000n, 2n ** 63n, 2n ** 64n - 1n]) expect((await error(file(ok, 22, n))).message).toMatch(/exceeds the file size/);
  });
  it('rejects a truncated data section', async () => {
    expect((await error(file(ok, 20))).message).toMatch(/tensor b: data_offsets \[16, 22\] run past the end/);
  });
  it('rejects overlapping offsets', async () => {
    const e = await error(file({ a: ok.a, b: { dtype: 'BF16', shape: [3], data_offsets: [10, 16] } }, 22));
    expect(e.tensor).toBe('b');
    expect(e.message).toMatch(/overlaps a/);
  });
  it('rejects an unknown dtype, naming the tensor', async () => {
    const e = await error(file({ a: { dtype: 'Q4_K', shape: [2], data_offsets: [0, 2] } }, 2));
    expect(e.message).toMatch(/tensor a: unknown dtype "Q4_K"/);
  });
  it('rejects a shape that does not match the byte length', async () => {
    const e = await error(file({ a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 16] } }, 16));
    expect(e.message).toMatch(/tensor a: shape \[2,3\] × 4 bytes \(F32\) = 24 bytes, but data_offsets span 16/);
  });
  it('rejects malformed JSON, non-objects, bad entries', async () => {
    expect((await error(file('{"a": [1, 2', 0))).message).toMatch(/not valid JSON/);
    expect((await error(file('[1, 2, 3]', 0))).message).toMatch(/not a JSON object/);
    expect((await error(file({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, 0))).message).toMatch(/shape must be/);
    expect((await error(file({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, 4))).message).toMatch(/reversed/);
    expect((await error(file({ a: { dtype: 'F32', shape: [1] } }, 4))).message).toMatch(/data_offsets must be/);
    expect((await error(file({ __metadata__: { format: 3 } }, 0))).message).toMatch(/__metadata__.format is not a string/);
  });
  it('rejects header bytes that are not UTF-8 (raw bytes: a stray 0xff, an encoded surrogate, a truncated sequence)', async () => {
    const enc = (s: string) => [...new TextEncoder().encode(s)];
    for (const bad of [[0xff], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const raw = new Uint8Array([...enc('{"a'), ...bad, ...enc('": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}')]);
      expect((await error(file(raw, 4))).message).toMatch(/header is not valid UTF-8/);
    }
  });
  it('survives deeply nested JSON', async () => {
    const depth = 200_000;
    expect((await error(file('['.repeat(depth) + ']'.repeat(depth), 0))).message).toMatch(/not a JSON object|not valid JSON/);
  });
});
