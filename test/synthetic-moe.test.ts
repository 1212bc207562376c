// Synthetic mixture-of-experts sources (the layouts of DeepSeek-V3, Qwen3-MoE and Mixtral, with
// bytes generated on read): their headers list the published tensors (671B, 235B and 141B
// parameters), DeepSeek-V3's FP8 weights come with block scales that the merge applies, and a
// merge of the tiny ones runs end to end.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint } from '@tessera/checkpoint';
import { FP8_VALUES } from '@tessera/tensor';
import { describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { tensorBytes } from './support/tensors.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('synthetic-moe');

describe('synthetic mixture-of-experts sources', () => {
  it('list the published tensors: parameter counts, experts, the MTP layer, FP8 weights with scales', async () => {
    const params = async (uri: string) => {
      const c = await openCheckpoint(uri);
      return { c, n: [...c.tensors.values()].filter((t) => !t.name.endsWith('_scale_inv')).reduce((s, t) => s + t.numel, 0) };
    };
    const ds = await params('synthetic://deepseek-v3-671b');
    // 671B in the main model and about 14B in the multi-token-prediction layer, as published
    expect(ds.n / 1e9).toBeGreaterThan(684);
    expect(ds.n / 1e9).toBeLessThan(686);
    expect(ds.c.tensors.get('model.layers.60.mlp.experts.255.down_proj.weight')).toMatchObject({ dtype: 'F8_E4M3', shape: [7168, 2048] });
    expect(ds.c.tensors.get('model.layers.60.mlp.experts.255.down_proj.weight_scale_inv')).toMatchObject({ dtype: 'F32', shape: [56, 16] });
    expect(ds.c.tensors.get('model.layers.61.eh_proj.weight')).toMatchObject({ dtype: 'F8_E4M3' });
    expect(ds.c.tensors.has('model.layers.2.mlp.gate_proj.weight')).toBe(true);
    expect(ds.c.tensors.has('model.layers.3.mlp.gate.e_score_correction_bias')).toBe(true);
    expect(ds.c.config!.quantization_config).toMatchObject({ quant_method: 'fp8', weight_block_size: [128, 128] });
    expect(Math.round((await params('synthetic://qwen3-moe-235b')).n / 1e9)).toBe(235);
    expect(Math.round((await params('synthetic://mixtral-8x22b')).n / 1e9)).toBe(141);
  });

  it('a task-arithmetic merge of three tiny DeepSeek-V3 experts dequantises their FP8 weights and writes bf16 without scales', async () => {
    const m = (k: number) => `synthetic://deepseek-v3-tiny?model=${k}`;
    const recipe = join(dir, 'ds.yaml');
    writeFileSync(
      recipe,
      `merge_method: task_arithmetic\nbase_model: ${m(0)}\nmodels:\n${[1, 2, 3].map((k) => `  - {model: ${m(k)}, parameters: {weight: 0.5}}`).join('\n')}\n`,
    );
    const r = await tessera(['merge', recipe, '--out', join(dir, 'ds-out'), '--no-fsync']);
    expect(r.code, r.stderr).toBe(0);
    const out = await tensorBytes(join(dir, 'ds-out'));
    expect([...out.keys()].some((n) => n.endsWith('_scale_inv'))).toBe(false);
    expect(out.get('model.layers.3.mlp.experts.3.up_proj.weight')?.dtype).toBe('BF16');
    // an expert differs from the base in the lowest mantissa bit of some FP8 values: the merged
    // value of an element is base + 0.5 Σ (expert − base), each dequantised by its block's scale
    const name = 'model.layers.1.mlp.experts.0.gate_proj.weight';
    const [base, ...experts] = await Promise.all([0, 1, 2, 3].map((k) => tensorBytes(m(k))));
    const scale = (c: typeof base) => new Float32Array(c!.get(`${name}_scale_inv`)!.bytes.slice().buffer);
    const cols = 256;
    const v = (c: typeof base, i: number) =>
      FP8_VALUES.F8_E4M3[c!.get(name)!.bytes[i]!]! * scale(c)[Math.floor(i / cols / 128) * 2 + Math.floor((i % cols) / 128)]!;
    const got = out.get(name)!;
    const bits = new Uint16Array(got.bytes.buffer, got.bytes.byteOffset, got.bytes.byteLength / 2);
    for (let i = 0; i < bits.length; i += 97) {
      const want = v(base, i) + 0.5 * experts.reduce((s, e) => s + v(e, i) - v(base, i), 0);
      const g = new Float32Array(new Uint32Array([bits[i]! << 16]).buffer)[0]!;
      expect(Math.abs(g - want), `${name}[${i}]`).toBeLessThanOrEqual(2 ** (Math.floor(Math.log2(Math.abs(want))) - 7));
    }
  });

  it('Qwen3-MoE and Mixtral: merges of the tiny layouts run to a null output', async () => {
    for (const family of ['qwen3-moe-tiny', 'mixtral-tiny']) {
      const m = (k: number) => `synthetic://${family}?model=${k}`;
      const recipe = join(dir, `${family}.yaml`);
      writeFileSync(
        recipe,
        `merge_method: ties\nbase_model: ${m(0)}\nmodels:\n${[1, 2].map((k) => `  - {model: ${m(k)}, parameters: {weight: 1, density: 0.5}}`).join('\n')}\n`,
      );
      const r = await tessera(['merge', recipe, '--out', 'null://', '--json']);
      expect(r.code, r.stderr).toBe(0);
    }
  });
});
