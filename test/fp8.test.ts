// FP8 checkpoints (float8_e4m3fn and float8_e5m2 tensors): merged from their exact values into
// bf16 as a float64 computation on the decoded weights gives it (within one bf16 ulp: the kernels
// compute in float32), the same bytes for any worker count and slice size; listed by inspect; and
// quantised checkpoints this is not (scales without a quantization config, other methods) refused.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createOutputFiles, planOutput, writeAt } from '@tessera/checkpoint';
import { FP8_VALUES, type Fp8Dtype, bf16BitsToF32 } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { same, tensorBytes } from './support/tensors.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('fp8');
const TENSORS: { name: string; dtype: Fp8Dtype; shape: number[] }[] = [
  { name: 'model.layers.0.mlp.up_proj.weight', dtype: 'F8_E4M3', shape: [300, 260] },
  { name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'F8_E5M2', shape: [130, 257] },
  { name: 'model.norm.weight', dtype: 'F8_E4M3', shape: [260] },
];

/** Random finite bit patterns of each tensor's format, per model. */
function patterns(d: Fp8Dtype, n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    do {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      out[i] = s & 0xff;
      // small magnitudes, so that sums stay well inside bf16 (and E5M2's huge values are left out)
    } while (!Number.isFinite(FP8_VALUES[d][out[i]!]!) || Math.abs(FP8_VALUES[d][out[i]!]!) > 64);
  }
  return out;
}

async function writeModel(path: string, seed: number, extra: { name: string; dtype: string; shape: number[] }[] = [], config: Record<string, unknown> = {}) {
  mkdirSync(path, { recursive: true });
  const list = [...TENSORS, ...extra];
  const layout = planOutput(list);
  await createOutputFiles(path, layout);
  for (const [i, t] of layout.files[0]!.tensors.entries()) {
    const spec = list[i]!;
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = spec.dtype.startsWith('F8') ? patterns(spec.dtype as Fp8Dtype, n, seed * 7919 + i) : new Uint8Array(n * 4);
    await writeAt(join(path, layout.files[0]!.name), t.offset, bytes);
  }
  writeFileSync(join(path, 'config.json'), JSON.stringify({ model_type: 'llama', num_hidden_layers: 1, ...config }));
}

const recipe = (models: string[]) =>
  `merge_method: task_arithmetic\nbase_model: ${join(dir, 'base')}\nmodels:\n${models.map((m, i) => `  - {model: ${join(dir, m)}, parameters: {weight: ${[0.75, 0.5][i]}}}`).join('\n')}\n`;

beforeAll(async () => {
  await writeModel(join(dir, 'base'), 1);
  await writeModel(join(dir, 'a'), 2);
  await writeModel(join(dir, 'b'), 3);
  writeFileSync(join(dir, 'ta.yaml'), recipe(['a', 'b']));
});

describe('FP8 checkpoints', () => {
  it('merge into bf16 as float64 arithmetic on the decoded values does, within one bf16 ulp', async () => {
    const r = await tessera(['merge', join(dir, 'ta.yaml'), '--out', join(dir, 'out'), '--no-fsync']);
    expect(r.code, r.stderr).toBe(0);
    const [out, base, a, b] = await Promise.all(['out', 'base', 'a', 'b'].map((m) => tensorBytes(join(dir, m))));
    for (const t of TENSORS) {
      const got = out!.get(t.name)!;
      expect(got.dtype).toBe('BF16');
      const v = (m: typeof base, i: number) => FP8_VALUES[t.dtype][m!.get(t.name)!.bytes[i]!]!;
      const bits = new Uint16Array(got.bytes.buffer, got.bytes.byteOffset, got.bytes.byteLength / 2);
      for (let i = 0; i < bits.length; i++) {
        const x = v(base, i);
        // exact in float64: the values are short dyadic fractions and so are the weights
        const want = x + 0.75 * (v(a, i) - x) + 0.5 * (v(b, i) - x);
        const g = bf16BitsToF32(bits[i]!);
        // one bf16 ulp at the larger of the two magnitudes
        const ulp = want === 0 ? 0 : 2 ** (Math.floor(Math.log2(Math.max(Math.abs(want), Math.abs(g)))) - 7);
        if (Math.abs(g - want) > ulp) expect.fail(`${t.name}[${i}]: ${g}, want ${want}`);
      }
    }
  });

  it('give the same bytes for any worker count and slice size', async () => {
    const runs = [
      ['--workers', '1'],
      ['--workers', '2', '--slice-mb', '1'],
    ];
    const outs = [];
    for (const [i, flags] of runs.entries()) {
      const r = await tessera(['merge', join(dir, 'ta.yaml'), '--out', join(dir, `inv${i}`), '--no-fsync', ...flags!]);
      expect(r.code, r.stderr).toBe(0);
      outs.push(await tensorBytes(join(dir, `inv${i}`)));
    }
    for (const t of TENSORS) expect(same(outs[0]!.get(t.name)!.bytes, outs[1]!.get(t.name)!.bytes), t.name).toBe(true);
  });

  it('are listed by inspect with their dtypes', async () => {
    const r = await tessera(['inspect', join(dir, 'a'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).dtypes).toEqual({ F8_E4M3: 2, F8_E5M2: 1 });
  });

  it('refuses scales without a quantization config, and other quantisation methods, with one error naming them, exit 2, no output', async () => {
    await writeModel(join(dir, 'scaled'), 4, [{ name: 'model.layers.0.mlp.up_proj.weight_scale_inv', dtype: 'F32', shape: [3, 3] }]);
    await writeModel(join(dir, 'quant'), 5, [], { quantization_config: { quant_method: 'gptq', bits: 4 } });
    for (const [m, message] of [
      ['scaled', /tensor model\.layers\.0\.mlp\.up_proj\.weight_scale_inv is a quantisation scale, but config\.json has no quantization_config/],
      ['quant', /quant\/config\.json: quantization_config\.quant_method "gptq" is not supported/],
    ] as const) {
      writeFileSync(join(dir, `${m}.yaml`), recipe(['a', m]));
      const r = await tessera(['merge', join(dir, `${m}.yaml`), '--out', join(dir, `${m}-out`), '--no-fsync']);
      expect(r.code, m).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(existsSync(join(dir, `${m}-out`)), m).toBe(false);
    }
  });
});
