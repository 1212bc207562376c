// A real merge of two zoo experts with TIES, checked against an independent float64 TIES.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCheckpoint, openSource } from '@tessera/checkpoint';
import { mergeRecipeFile } from '@tessera/engine';
import { decode } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './support/tmp.js';

const zoo = fileURLToPath(new URL('./fixtures/zoo/', import.meta.url));
const out = join(tempDir('zoo'), 'merged');

async function tensors(dir: string): Promise<Map<string, { shape: number[]; values: Float64Array; dtype: string }>> {
  const c = await openCheckpoint(dir);
  const m = new Map<string, { shape: number[]; values: Float64Array; dtype: string }>();
  for (const t of c.tensors.values()) {
    const src = openSource(t.file);
    const bytes = new Uint8Array(t.byteLength);
    await src.readInto(t.offset, bytes);
    await src.close();
    m.set(t.name, { shape: t.shape, dtype: t.dtype, values: decode(bytes, t.dtype as 'BF16') });
  }
  return m;
}

/** TIES in float64: top-k per task vector (ties by lower index), sign of the sum, disjoint mean. */
function tiesF64(base: Float64Array, experts: Float64Array[], density: number): Float64Array {
  const n = base.length;
  const k = Math.floor(density * n);
  const trimmed = experts.map((x) => {
    const d = x.map((v, i) => v - base[i]!);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => Math.abs(d[b]!) - Math.abs(d[a]!) || a - b);
    const keep = new Float64Array(n);
    for (const i of order.slice(0, k)) keep[i] = d[i]!;
    return keep;
  });
  return base.map((b, i) => {
    const sum = trimmed.reduce((s, t) => s + t[i]!, 0);
    const sign = sum >= 0 ? 1 : -1;
    const kept = trimmed.map((t) => t[i]!).filter((v) => v !== 0 && Math.sign(v) === sign);
    return b + (kept.length ? kept.reduce((a, c) => a + c, 0) / kept.length : 0);
  });
}

/** One bf16 ulp at the magnitude of v. */
function bf16Ulp(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -126) return 2 ** -133;
  return 2 ** (Math.floor(Math.log2(a)) - 7);
}

describe('zoo merge end to end', () => {
  beforeAll(async () => {
    const recipe = join(zoo, '..', '..', '..', 'examples', 'zoo-ties.yaml');
    await mergeRecipeFile(recipe, { out, workers: 2, fsync: false });
  });

  it('loads back with the reader: same tensor set, shapes, bf16, config and tokenizer', async () => {
    const merged = await openCheckpoint(out);
    const base = await openCheckpoint(join(zoo, 'base'));
    expect([...merged.tensors.keys()]).toEqual([...base.tensors.keys()]);
    for (const [name, t] of merged.tensors) {
      expect(t.shape, name).toEqual(base.tensors.get(name)!.shape);
      expect(t.dtype).toBe('BF16');
    }
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toEqual({ ...(JSON.parse(readFileSync(join(zoo, 'base', 'config.json'), 'utf8')) as object), torch_dtype: 'bfloat16' });
    expect(readFileSync(join(out, 'tokenizer.json'))).toEqual(readFileSync(join(zoo, 'base', 'tokenizer.json')));
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toMatch(/merge_method: ties/);
  });

  it('equals an independent float64 TIES within one bf16 ulp', async () => {
    const [merged, base, add, up] = await Promise.all([out, join(zoo, 'base'), join(zoo, 'add'), join(zoo, 'up')].map(tensors));
    let worst = 0,
      differing = 0,
      total = 0;
    for (const [name, m] of merged!) {
      const ref = tiesF64(base!.get(name)!.values, [add!.get(name)!.values, up!.get(name)!.values], 0.2);
      m.values.forEach((v, i) => {
        const err = Math.abs(v - ref[i]!) / bf16Ulp(ref[i]!);
        worst = Math.max(worst, err);
        if (v !== ref[i]) differing++;
        total++;
      });
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect(differing / total).toBeLessThan(0.05);
  });
});
