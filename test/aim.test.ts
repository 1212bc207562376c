// AIM: in recipes and as `tessera aim`, against an independent float64 computation, ω = 1 as
// the identity, the statistics cache, and which tensors it touches.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File } from '@tessera/checkpoint';
import { mergeRecipeFile } from '@tessera/engine';
import { readStats } from '@tessera/model';
import { bf16BitsToF32 } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { same, tensorBytes } from './support/tensors.js';
import { tempDir } from './support/tmp.js';
import { ZOO } from './support/vocab-fixtures.js';

const root = tempDir('aim');
process.env.TESSERA_CACHE_DIR = join(root, 'cache');
const OPS: Record<string, string> = {
  task_arithmetic: 'merge_method: task_arithmetic',
  ties: 'merge_method: ties\nparameters: {density: 0.2}',
  dare_ties: 'merge_method: dare_ties\nparameters: {density: 0.2}\nseed: 3',
};
function recipe(op: string, aim?: string): string {
  const file = join(root, `${op}-${aim ? aim.replace(/[^a-z0-9.]/gi, '') : 'plain'}.yaml`);
  writeFileSync(
    file,
    `${OPS[op]}\nbase_model: ${join(ZOO, 'base')}\nmodels:\n  - {model: ${join(ZOO, 'up')}, parameters: {weight: 1}}\n  - {model: ${join(ZOO, 'sort')}, parameters: {weight: 1}}\n${aim ? `aim: ${aim}\n` : ''}`,
  );
  return file;
}
async function merge(file: string, out: string): Promise<string> {
  const events: string[] = [];
  await mergeRecipeFile(file, {
    out: join(root, out),
    workers: 2,
    fsync: false,
    onEvent: (e) => {
      if (e.type === 'aim') events.push(e.step);
    },
  });
  return events.join(',');
}
const bf16 = (bytes: Uint8Array) => {
  const u = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  return Array.from(u, bf16BitsToF32);
};

describe('AIM', () => {
  beforeAll(async () => {
    for (const op of Object.keys(OPS)) await merge(recipe(op), `${op}-plain`);
  }, 120_000);

  it('computes the statistics once and then reads them from the cache', async () => {
    expect(await merge(recipe('task_arithmetic', `{calibration: ${join(ZOO, 'probes.jsonl')}}`), 'ta-aim')).toMatch(/computing.*ready/);
    expect(await merge(recipe('task_arithmetic', `{calibration: ${join(ZOO, 'probes.jsonl')}, omega: 0.4}`), 'ta-aim-again')).toBe('cached');
    expect(
      same(
        (await tensorBytes(join(root, 'ta-aim'))).get('lm_head.weight')!.bytes,
        (await tensorBytes(join(root, 'ta-aim-again'))).get('lm_head.weight')!.bytes,
      ),
    ).toBe(true);
  });

  it('equals B + (M - B) * r computed independently in float64, per input channel; embeddings untouched', async () => {
    const stats = join(root, 'stats.arrow');
    const r = await tessera(['activations', join(ZOO, 'base'), '--probes', join(ZOO, 'probes.jsonl'), '--out', stats]);
    expect(r.code, r.stderr).toBe(0);
    await merge(recipe('ties', `{calibration: ${stats}, omega: 0.3}`), 'ties-aim');
    const [base, plain, aim, sums] = await Promise.all([
      tensorBytes(join(ZOO, 'base')),
      tensorBytes(join(root, 'ties-plain')),
      tensorBytes(join(root, 'ties-aim')),
      readStats(stats),
    ]);
    expect(same(aim.get('model.embed_tokens.weight')!.bytes, plain.get('model.embed_tokens.weight')!.bytes)).toBe(true);
    let changed = 0,
      outside = 0,
      checked = 0;
    for (const [name, a] of sums.sums) {
      const b = bf16(base.get(name)!.bytes),
        m = bf16(plain.get(name)!.bytes),
        got = bf16(aim.get(name)!.bytes);
      const cols = a.length,
        max = Math.max(...a);
      for (let e = 0; e < m.length; e++) {
        const rel = 1 - (a[e % cols]! / max) * (1 - 0.3);
        const want = b[e]! + (m[e]! - b[e]!) * rel;
        // one bf16 rounding of a float32 computation: within one bf16 ulp of the float64 value
        if (Math.abs(got[e]! - want) > Math.abs(want) * 2 ** -7) outside++;
        if (got[e] !== m[e]) changed++;
        checked++;
      }
    }
    expect(checked).toBe(804_992 - 260 * 128); // every tensor but the embeddings
    expect(outside).toBe(0);
    expect(changed).toBeGreaterThan(10_000);
  });

  it.each(Object.keys(OPS))('ω = 1 reproduces the bytes of %s without AIM', async (op) => {
    await merge(recipe(op, `{calibration: ${join(ZOO, 'probes.jsonl')}, omega: 1}`), `${op}-w1`);
    expect(
      same(
        (await tensorBytes(join(root, `${op}-w1`))).get('model.layers.1.mlp.down_proj.weight')!.bytes,
        (await tensorBytes(join(root, `${op}-plain`))).get('model.layers.1.mlp.down_proj.weight')!.bytes,
      ),
    ).toBe(true);
    expect(await sha256File(join(root, `${op}-w1`, 'model.safetensors'))).toBe(await sha256File(join(root, `${op}-plain`, 'model.safetensors')));
  });

  it('tessera aim on the plain merge writes the bytes of the recipe with aim:', async () => {
    const stats = join(root, 'stats-dare.arrow');
    expect((await tessera(['activations', join(ZOO, 'base'), '--probes', join(ZOO, 'probes.jsonl'), '--out', stats, '--chains', '2'])).code).toBe(0);
    await merge(recipe('dare_ties', `{calibration: ${stats}}`), 'dare-aim');
    const r = await tessera(['aim', join(ZOO, 'base'), join(root, 'dare_ties-plain'), '--stats', stats, '--out', join(root, 'dare-post')]);
    expect(r.code, r.stderr).toBe(0);
    expect(await sha256File(join(root, 'dare-post', 'model.safetensors'))).toBe(await sha256File(join(root, 'dare-aim', 'model.safetensors')));
    expect((await tessera(['verify', join(root, 'dare-post')])).code).toBe(0);
  });

  it('recipe errors name the path: omega out of range, no base_model, missing calibration file', async () => {
    const bad = (text: string) => {
      const f = join(root, 'bad.yaml');
      writeFileSync(f, text);
      return tessera(['merge', f, '--out', join(root, 'never')]);
    };
    const models = `models:\n  - {model: ${join(ZOO, 'up')}, parameters: {weight: 1}}\n  - {model: ${join(ZOO, 'sort')}, parameters: {weight: 1}}\n`;
    let r = await bad(
      `merge_method: task_arithmetic\nbase_model: ${join(ZOO, 'base')}\n${models}aim: {calibration: ${join(ZOO, 'probes.jsonl')}, omega: 1.5}\n`,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml: aim\.omega: must be in \[0, 1\], got 1\.5/);
    r = await bad(`merge_method: linear\n${models}aim: {calibration: ${join(ZOO, 'probes.jsonl')}}\n`);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml: aim: needs base_model/);
    r = await bad(`merge_method: task_arithmetic\nbase_model: ${join(ZOO, 'base')}\n${models}aim: {calibration: nowhere.jsonl}\n`);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml: aim\.calibration: nowhere\.jsonl: no such file/);
  });
});
