// Bad input ends with exit code 2, one precise message naming the file, tensor or recipe path,
// and no output directory (nor a leftover temporary one).
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { tempDir } from './support/tmp.js';

const zoo = fileURLToPath(new URL('./fixtures/zoo/', import.meta.url));
const root = tempDir('bad-input');
let n = 0;

/** A work dir with base, add, up copied from the zoo, `mutate` applied to add's weights. */
function workdir(mutate?: (bytes: Uint8Array, header: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => Uint8Array): string {
  const dir = join(root, `case${n++}`);
  mkdirSync(dir);
  for (const m of ['base', 'add', 'up']) cpSync(join(zoo, m), join(dir, m), { recursive: true });
  if (mutate) {
    const path = join(dir, 'add', 'model.safetensors');
    const bytes = new Uint8Array(readFileSync(path));
    const len = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) as Parameters<NonNullable<typeof mutate>>[1];
    writeFileSync(path, mutate(bytes, header));
  }
  return dir;
}

/** Re-encodes a file with a new header (same data section). */
function withHeader(bytes: Uint8Array, header: object): Uint8Array {
  const len = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + bytes.byteLength - 8 - len);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + len), 8 + json.byteLength);
  return out;
}

const RECIPE =
  'merge_method: ties\nbase_model: base\nmodels:\n  - {model: add, parameters: {weight: 1, density: 0.5}}\n  - {model: up, parameters: {weight: 1, density: 0.5}}\n';

async function expectRejected(dir: string, message: RegExp, recipe = RECIPE, extra: string[] = []) {
  writeFileSync(join(dir, 'recipe.yaml'), recipe);
  const r = await tessera(['merge', join(dir, 'recipe.yaml'), '--out', join(dir, 'out'), '--no-fsync', ...extra]);
  expect(r.stderr).toMatch(message);
  expect(
    r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('error:')),
  ).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
  expect(r.code).toBe(2);
  expect(existsSync(join(dir, 'out'))).toBe(false);
  expect(readdirSync(dir).filter((f) => f.includes('tessera-'))).toEqual([]);
}

const addFile = (dir: string) => join(dir, 'add', 'model.safetensors').replace(/[/\\^$.*+?()[\]{}|]/g, '\\$&');

describe('bad input exits 2 with a precise message and no output', () => {
  it('truncated file', async () => {
    const dir = workdir((b) => b.subarray(0, b.byteLength - 1000));
    await expectRejected(dir, new RegExp(`error: ${addFile(dir)}: tensor lm_head.weight: data_offsets .* run past the end of the data section`));
  });
  it('header length past the end of the file', async () => {
    const dir = workdir((b) => {
      const c = b.slice();
      new DataView(c.buffer).setBigUint64(0, 2n ** 62n, true);
      return c;
    });
    await expectRejected(dir, new RegExp(`${addFile(dir)}: header length 4611686018427387904 exceeds the file size`));
  });
  it('overlapping offsets', async () => {
    const dir = workdir((b, h) => {
      const t = h['model.layers.1.mlp.up_proj.weight']!;
      t.data_offsets = [t.data_offsets[0]! - 2, t.data_offsets[1]! - 2];
      return withHeader(b, h);
    });
    await expectRejected(dir, new RegExp(`${addFile(dir)}: tensor model.layers.1.mlp.(up|gate)_proj.weight: data of .* overlaps`));
  });
  it('unknown dtype', async () => {
    const dir = workdir((b, h) => {
      h['model.norm.weight']!.dtype = 'F12';
      return withHeader(b, h);
    });
    await expectRejected(dir, new RegExp(`${addFile(dir)}: tensor model.norm.weight: unknown dtype "F12"`));
  });
  it('shape and byte length mismatch', async () => {
    const dir = workdir((b, h) => {
      h['model.norm.weight']!.shape = [129];
      return withHeader(b, h);
    });
    await expectRejected(dir, /tensor model.norm.weight: shape \[129\] × 2 bytes \(BF16\) = 258 bytes, but data_offsets span 256/);
  });
  it('a tensor missing in one model', async () => {
    const dir = workdir((b, h) => {
      delete h['model.layers.2.self_attn.k_proj.weight'];
      return withHeader(b, h);
    });
    await expectRejected(dir, /error: tensor model.layers.2.self_attn.k_proj.weight: missing in models\[0\]/);
  });
  it('shape mismatch between models', async () => {
    const dir = workdir((b, h) => {
      const t = h['model.layers.0.self_attn.k_proj.weight']!;
      t.shape = [128, 64];
      return withHeader(b, h);
    });
    await expectRejected(
      dir,
      /error: tensor model.layers.0.self_attn.k_proj.weight: shape \[128, 64\] in models\[0\] .* differs from \[64, 128\] in base_model/,
    );
    // --skip-mismatched: as mergekit, the model is left out of that tensor, with a warning
    const r = await tessera(['merge', join(dir, 'recipe.yaml'), '--out', join(dir, 'skipped'), '--no-fsync', '--skip-mismatched']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /warning: tensor model.layers.0.self_attn.k_proj.weight: shape \[128, 64\] in models\[0\] .*; that model is left out of this tensor/,
    );
  });
  it('NaN produced by the merge', async () => {
    const dir = workdir();
    const recipe = 'merge_method: linear\nmodels:\n  - {model: add, parameters: {weight: 1}}\n  - {model: up, parameters: {weight: -1}}\n';
    await expectRejected(dir, /error: tensor model.embed_tokens.weight: the merge produced \d+ NaN\/Inf value\(s\), the first at element 0/, recipe);
  });
  it('NaN in an input', async () => {
    const dir = workdir((b, h) => {
      const c = b.slice();
      const len = Number(new DataView(c.buffer).getBigUint64(0, true));
      const at = 8 + len + h['model.layers.3.mlp.down_proj.weight']!.data_offsets[0]! + 2 * 77;
      c[at] = 0xc0;
      c[at + 1] = 0x7f; // bf16 NaN
      return c;
    });
    await expectRejected(dir, /error: tensor model.layers.3.mlp.down_proj.weight: the inputs hold 1 NaN\/Inf value\(s\), the first at element 77/);
  });
  it('unknown recipe key under --strict (a warning without)', async () => {
    const dir = workdir();
    const recipe = RECIPE + 'parameters: {normalise: true}\n';
    await expectRejected(dir, /error: .*recipe.yaml: parameters.normalise: unknown key, did you mean normalize\?/, recipe, ['--strict']);
    const r = await tessera(['merge', join(dir, 'recipe.yaml'), '--out', join(dir, 'ok'), '--no-fsync']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*recipe.yaml: parameters.normalise: unknown key, did you mean normalize\?/);
  });
  it('output directory existing without --overwrite', async () => {
    const dir = workdir();
    mkdirSync(join(dir, 'out'));
    writeFileSync(join(dir, 'out', 'keep.txt'), 'mine');
    writeFileSync(join(dir, 'recipe.yaml'), RECIPE);
    const r = await tessera(['merge', join(dir, 'recipe.yaml'), '--out', join(dir, 'out')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/out: already exists \(pass --overwrite to replace it\)/);
    expect(readFileSync(join(dir, 'out', 'keep.txt'), 'utf8')).toBe('mine');
    expect(readdirSync(dir).filter((f) => f.includes('tessera-'))).toEqual([]);
  });
  it('a bad recipe value names the recipe path', async () => {
    const dir = workdir();
    await expectRejected(
      dir,
      /recipe.yaml: models\[1\].parameters.density: must be in \(0, 1\], got 1.5/,
      RECIPE.replace(
        'density: 0.5}}\n  - {model: up, parameters: {weight: 1, density: 0.5',
        'density: 0.5}}\n  - {model: up, parameters: {weight: 1, density: 1.5',
      ),
    );
  });
});
