// The hashes computed while slices finish must be the files' sha256, whatever the order, the
// overlaps and the gaps of the ranges reported.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { OutputLayout } from '@tessera/checkpoint';
import { PrefixHasher } from './prefix-hash.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function files(sizes: number[]) {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-prefix-hash-'));
  dirs.push(dir);
  const contents = sizes.map((size, i) => {
    const c = new Uint8Array(size);
    for (let k = 0; k < size; k++) c[k] = (k * 31 + i * 7 + (k >> 9)) & 0xff;
    return c;
  });
  await Promise.all(contents.map((c, i) => writeFile(join(dir, `f${i}.safetensors`), c)));
  const layout = {
    files: sizes.map((size, i) => ({ name: `f${i}.safetensors`, size, header: new Uint8Array(100), tensors: [] })),
    index: undefined,
    totalBytes: 0,
  } as unknown as OutputLayout;
  const expected = new Map(contents.map((c, i) => [`f${i}.safetensors`, createHash('sha256').update(c).digest('hex')]));
  return { dir, layout, expected };
}

describe('hashes computed as slices finish', () => {
  it('in order, out of order, overlapping: the sha256 of each file', async () => {
    const { dir, layout, expected } = await files([6_000_000, 3_000_001]);
    const h = new PrefixHasher(dir, layout);
    const ranges: [number, number][] = [];
    for (let o = 100; o < 6_000_000; o += 300_000) ranges.push([o, Math.min(300_000, 6_000_000 - o)]);
    // the second half first, then the first half backwards, one range twice
    for (const [o, l] of [...ranges.slice(10), ...ranges.slice(0, 10).reverse(), ranges[3]!]) h.finished('f0.safetensors', o, l);
    h.finished('f1.safetensors', 100, 1_500_000);
    h.finished('f1.safetensors', 1_000_000, 2_000_001);
    expect(await h.digests()).toEqual(expected);
    await h.close();
  });

  it('ranges never reported (a resumed run, a gap) are read at the end', async () => {
    const { dir, layout, expected } = await files([5_000_000]);
    const h = new PrefixHasher(dir, layout);
    h.finished('f0.safetensors', 2_000_000, 1_000_000);
    h.finished('f0.safetensors', 100, 500_000);
    expect(await h.digests()).toEqual(expected);
    await h.close();
  });

  it('a file shorter than its layout is an error naming it', async () => {
    const { dir, layout } = await files([1000]);
    (layout.files[0] as { size: number }).size = 2000;
    const h = new PrefixHasher(dir, layout);
    await expect(h.digests()).rejects.toThrow(/f0\.safetensors: ended at byte 1000 .*2000 bytes/);
    await h.close();
  });
});
