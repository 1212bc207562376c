// Mixture-of-experts checkpoints of the three families (Mixtral, Qwen3-MoE, DeepSeek-V3 with its
// dense first layer and multi-token-prediction layer), written here: every expert, shared-expert,
// router and router-bias tensor merges with the weight mergekit's rules give it (filters match by
// substring, first match wins; gradients interpolate over the layers, the MTP layer counted as
// the last), and an Assembly-of-Experts recipe takes the routed experts from one model and
// interpolates the rest.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createOutputFiles, planOutput, writeAt } from '@tessera/checkpoint';
import { bf16BitsToF32 } from '@tessera/tensor';
import { describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { same, tensorBytes } from './support/tensors.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('moe');
const H = 8,
  F = 12,
  E = 3,
  V = 16;

const attn = (l: number) => ['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((p) => `model.layers.${l}.self_attn.${p}.weight`);
const norms = (l: number) => [`model.layers.${l}.input_layernorm.weight`, `model.layers.${l}.post_attention_layernorm.weight`];
const FAMILIES: Record<string, { layers: number; config: Record<string, unknown>; names: string[] }> = {
  mixtral: {
    layers: 2,
    config: { model_type: 'mixtral', num_hidden_layers: 2, num_local_experts: E },
    names: [0, 1].flatMap((l) => [
      ...attn(l),
      ...norms(l),
      `model.layers.${l}.block_sparse_moe.gate.weight`,
      ...Array.from({ length: E }, (_, e) => ['w1', 'w2', 'w3'].map((w) => `model.layers.${l}.block_sparse_moe.experts.${e}.${w}.weight`)).flat(),
    ]),
  },
  qwen3_moe: {
    layers: 2,
    config: { model_type: 'qwen3_moe', num_hidden_layers: 2, num_experts: E },
    names: [0, 1].flatMap((l) => [
      ...attn(l),
      `model.layers.${l}.self_attn.q_norm.weight`,
      `model.layers.${l}.self_attn.k_norm.weight`,
      ...norms(l),
      `model.layers.${l}.mlp.gate.weight`,
      ...Array.from({ length: E }, (_, e) => ['gate_proj', 'up_proj', 'down_proj'].map((w) => `model.layers.${l}.mlp.experts.${e}.${w}.weight`)).flat(),
    ]),
  },
  // layer 0 dense, layer 1 MoE (routed + shared experts, router with its score-correction bias),
  // layer 2 the multi-token-prediction layer past num_hidden_layers
  deepseek_v3: {
    layers: 3,
    config: { model_type: 'deepseek_v3', num_hidden_layers: 2, n_routed_experts: E, first_k_dense_replace: 1, num_nextn_predict_layers: 1 },
    names: [
      ...['q_a_proj', 'q_b_proj', 'kv_a_proj_with_mqa', 'kv_b_proj', 'o_proj'].map((p) => `model.layers.0.self_attn.${p}.weight`),
      ...norms(0),
      ...['gate_proj', 'up_proj', 'down_proj'].map((w) => `model.layers.0.mlp.${w}.weight`),
      ...['q_a_proj', 'q_b_proj', 'kv_a_proj_with_mqa', 'kv_b_proj', 'o_proj'].map((p) => `model.layers.1.self_attn.${p}.weight`),
      ...norms(1),
      'model.layers.1.mlp.gate.weight',
      'model.layers.1.mlp.gate.e_score_correction_bias',
      ...Array.from({ length: E }, (_, e) => ['gate_proj', 'up_proj', 'down_proj'].map((w) => `model.layers.1.mlp.experts.${e}.${w}.weight`)).flat(),
      ...['gate_proj', 'up_proj', 'down_proj'].map((w) => `model.layers.1.mlp.shared_experts.${w}.weight`),
      ...['eh_proj.weight', 'enorm.weight', 'hnorm.weight', 'shared_head.norm.weight', 'shared_head.head.weight'].map((t) => `model.layers.2.${t}`),
      ...['q_a_proj', 'q_b_proj', 'kv_a_proj_with_mqa', 'kv_b_proj', 'o_proj'].map((p) => `model.layers.2.self_attn.${p}.weight`),
      ...['gate_proj', 'up_proj', 'down_proj'].map((w) => `model.layers.2.mlp.${w}.weight`),
    ],
  },
};

const shapeOf = (name: string) =>
  /norm|bias/.test(name)
    ? [H]
    : /experts|mlp\.(gate|up|down)_proj/.test(name)
      ? [name.includes('down') || name.includes('w2') ? H : F, name.includes('down') || name.includes('w2') ? F : H]
      : name.endsWith('gate.weight')
        ? [E, H]
        : [H, H];

/** A checkpoint of the family: every value (k + 1) * 2^-4 + small, so that differences are exact. */
async function write(family: string, model: number): Promise<string> {
  const f = FAMILIES[family]!;
  const path = join(dir, `${family}-${model}`);
  mkdirSync(path, { recursive: true });
  const names = ['model.embed_tokens.weight', ...f.names, 'model.norm.weight', 'lm_head.weight'];
  const list = names.map((name) => ({ name, dtype: 'BF16', shape: name.includes('embed') || name.includes('lm_head') ? [V, H] : shapeOf(name) }));
  const layout = planOutput(list);
  await createOutputFiles(path, layout);
  for (const [i, t] of layout.files[0]!.tensors.entries()) {
    const n = list[i]!.shape.reduce((a, b) => a * b, 1);
    // bf16 of (1 + model) + j/64: exact, and a different difference per element
    const bits = Uint16Array.from({ length: n }, (_, j) => new Uint16Array(new Float32Array([1 + model + ((i + j) % 16) / 64]).buffer)[1]!);
    await writeAt(join(path, layout.files[0]!.name), t.offset, new Uint8Array(bits.buffer));
  }
  writeFileSync(join(path, 'config.json'), JSON.stringify(f.config));
  return path;
}

/** The weight mergekit gives a tensor: the first filter that is a substring of its name, a gradient interpolated at its layer. */
function expectedWeight(name: string, layers: number): number {
  const layer = Number(/^model\.layers\.(\d+)\./.exec(name)?.[1] ?? Number.NaN);
  const t = Number.isNaN(layer) ? 0 : layer / (layers - 1);
  const rules: [string | undefined, number[]][] = [
    ['mlp.experts', [0.2]],
    ['block_sparse_moe.experts', [0.25]],
    ['self_attn', [0.1, 0.9]],
    ['gate', [0.7]],
    [undefined, [0.5]],
  ];
  const [, v] = rules.find(([f]) => f === undefined || name.includes(f))!;
  return v.length === 1 ? v[0]! : v[0]! + (v[1]! - v[0]!) * t;
}

const WEIGHT = `weight: [{filter: mlp.experts, value: 0.2}, {filter: block_sparse_moe.experts, value: 0.25}, {filter: self_attn, value: [0.1, 0.9]}, {filter: gate, value: 0.7}, {value: 0.5}]`;

describe('mixture-of-experts checkpoints', () => {
  for (const family of Object.keys(FAMILIES)) {
    it(`${family}: every expert, shared-expert, router and bias tensor gets the weight of mergekit's filters and gradients`, async () => {
      const [base, expert] = [await write(family, 0), await write(family, 1)];
      const recipe = join(dir, `${family}.yaml`);
      writeFileSync(
        recipe,
        `merge_method: task_arithmetic\nbase_model: ${base}\nmodels:\n  - model: ${expert}\n    parameters: {${WEIGHT}}\ndtype: float32\nout_dtype: float32\n`,
      );
      const r = await tessera(['merge', recipe, '--out', join(dir, `${family}-out`), '--no-fsync']);
      expect(r.code, r.stderr).toBe(0);
      const [out, b, e] = await Promise.all([join(dir, `${family}-out`), base, expert].map(tensorBytes));
      const layers = FAMILIES[family]!.layers;
      expect(out!.size).toBe(b!.size);
      for (const [name, t] of out!) {
        const got = new Float32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 4);
        const bv = new Uint16Array(b!.get(name)!.bytes.buffer, b!.get(name)!.bytes.byteOffset, got.length);
        const ev = new Uint16Array(e!.get(name)!.bytes.buffer, e!.get(name)!.bytes.byteOffset, got.length);
        const w = expectedWeight(name, layers);
        for (let j = 0; j < got.length; j++) {
          const [x, y] = [bf16BitsToF32(bv[j]!), bf16BitsToF32(ev[j]!)];
          expect(Math.abs(got[j]! - (x + Math.fround(w) * (y - x))), `${name}[${j}]`).toBeLessThanOrEqual(4e-7 * Math.abs(got[j]!));
        }
      }
    });
  }

  it('Assembly of Experts: the routed experts from one model, everything else interpolated', async () => {
    const [v3, r1] = [await write('deepseek_v3', 2), await write('deepseek_v3', 3)];
    const recipe = join(dir, 'aoe.yaml');
    writeFileSync(
      recipe,
      `merge_method: task_arithmetic\nbase_model: ${v3}\nmodels:\n  - model: ${r1}\n    parameters: {weight: [{filter: mlp.experts, value: 1.0}, {value: 0.5}]}\ndtype: bfloat16\n`,
    );
    const r = await tessera(['merge', recipe, '--out', join(dir, 'aoe-out'), '--no-fsync']);
    expect(r.code, r.stderr).toBe(0);
    const [out, a, b] = await Promise.all([join(dir, 'aoe-out'), v3, r1].map(tensorBytes));
    let routed = 0;
    for (const [name, t] of out!) {
      if (name.includes('.mlp.experts.')) {
        routed++;
        expect(same(t.bytes, b!.get(name)!.bytes), name).toBe(true);
        continue;
      }
      // the shared experts, the router, its bias, attention, norms, the dense and MTP layers: the midpoint
      const mid = new Uint16Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 2);
      const x = new Uint16Array(a!.get(name)!.bytes.buffer, a!.get(name)!.bytes.byteOffset, mid.length);
      const y = new Uint16Array(b!.get(name)!.bytes.buffer, b!.get(name)!.bytes.byteOffset, mid.length);
      for (let j = 0; j < mid.length; j++) {
        const want = (bf16BitsToF32(x[j]!) + bf16BitsToF32(y[j]!)) / 2;
        // rounded once to bf16: within half a bf16 ulp
        expect(Math.abs(bf16BitsToF32(mid[j]!) - want), `${name}[${j}]`).toBeLessThanOrEqual(2 ** (Math.floor(Math.log2(want)) - 8));
      }
    }
    expect(routed).toBe(E * 3);
  });
});
