// Block-scaled FP8 checkpoints as DeepSeek-V3 publishes them (F8_E4M3 weights, float32
// `weight_scale_inv` blocks of 128 × 128, quantization_config in config.json): merged with
// task_arithmetic, TIES and SLERP into bf16 as float64 arithmetic on the dequantised weights
// (value × its block's scale) gives it, the same bytes for any worker count and slice size and on
// NATS workers, the
// scales never merged or written, and malformed scales refused with one error naming the tensor.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createOutputFiles, planOutput, writeAt } from '@tessera/checkpoint';
import { FP8_VALUES, bf16BitsToF32 } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { same, tensorBytes } from './support/tensors.js';
import { natsWithWorkers } from './support/services.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('fp8-blocks');
const B = 128;
const WEIGHTS = [
  { name: 'model.layers.0.mlp.experts.0.gate_proj.weight', shape: [2200, 600] },
  { name: 'model.layers.0.self_attn.kv_a_proj_with_mqa.weight', shape: [130, 257] },
  // two slices at --slice-mb 1 even when re-quantised (slices then hold whole 128-row blocks)
  { name: 'model.layers.0.mlp.experts.1.down_proj.weight', shape: [2048, 1024] },
];
const NORM = { name: 'model.layers.0.input_layernorm.weight', shape: [600] };
const QUANT = { quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: [B, B] };

function xorshift(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

interface Model {
  fp8: Map<string, Uint8Array>;
  scales: Map<string, Float32Array>;
  norm: Float32Array;
}

function model(seed: number): Model {
  const next = xorshift(seed);
  const fp8 = new Map<string, Uint8Array>(),
    scales = new Map<string, Float32Array>();
  for (const w of WEIGHTS) {
    const n = w.shape[0]! * w.shape[1]!;
    const bits = new Uint8Array(n);
    // finite E4M3 patterns (0x7f and 0xff are NaN)
    for (let i = 0; i < n; i++) bits[i] = (Math.floor(next() * 127) | (next() < 0.5 ? 0x80 : 0)) & 0xff;
    fp8.set(w.name, bits);
    // per-block scales as a quantiser writes them: block max / 448 (here random magnitudes around 1e-3)
    scales.set(
      w.name,
      Float32Array.from({ length: Math.ceil(w.shape[0]! / B) * Math.ceil(w.shape[1]! / B) }, () => 1e-3 * (0.5 + next())),
    );
  }
  return { fp8, scales, norm: Float32Array.from({ length: NORM.shape[0]! }, () => 1 + next() / 8) };
}

async function write(
  path: string,
  m: Model,
  mutate: (list: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[]) => void = () => {},
  quant: unknown = QUANT,
) {
  mkdirSync(path, { recursive: true });
  const list: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[] = [];
  for (const w of WEIGHTS) {
    list.push({ name: w.name, dtype: 'F8_E4M3', shape: w.shape, bytes: m.fp8.get(w.name)! });
    const s = m.scales.get(w.name)!;
    list.push({
      name: `${w.name}_scale_inv`,
      dtype: 'F32',
      shape: [Math.ceil(w.shape[0]! / B), Math.ceil(w.shape[1]! / B)],
      bytes: new Uint8Array(s.buffer.slice(0)),
    });
  }
  list.push({ name: NORM.name, dtype: 'F32', shape: NORM.shape, bytes: new Uint8Array(m.norm.buffer.slice(0)) });
  mutate(list);
  const layout = planOutput(list);
  await createOutputFiles(path, layout);
  for (const [i, t] of layout.files[0]!.tensors.entries()) await writeAt(join(path, layout.files[0]!.name), t.offset, list[i]!.bytes);
  writeFileSync(
    join(path, 'config.json'),
    JSON.stringify({ model_type: 'deepseek_v3', num_hidden_layers: 1, ...(quant ? { quantization_config: quant } : {}) }),
  );
}

/** The dequantised value of element i of a weight (exact in float64). */
function value(m: Model, w: (typeof WEIGHTS)[number], i: number): number {
  const cols = w.shape[1]!;
  const r = Math.floor(i / cols),
    c = i % cols;
  return FP8_VALUES.F8_E4M3[m.fp8.get(w.name)![i]!]! * m.scales.get(w.name)![Math.floor(r / B) * Math.ceil(cols / B) + Math.floor(c / B)]!;
}

const models = { base: model(1), a: model(2), b: model(3) };
const path = (m: string) => join(dir, m);

beforeAll(async () => {
  for (const [name, m] of Object.entries(models)) await write(path(name), m);
});

async function merged(name: string, recipe: string, flags: string[] = []) {
  writeFileSync(join(dir, `${name}.yaml`), recipe);
  const r = await tessera(['merge', join(dir, `${name}.yaml`), '--out', path(`${name}-out`), '--no-fsync', ...flags]);
  expect(r.code, r.stderr).toBe(0);
  return tensorBytes(path(`${name}-out`));
}

/** Every output element within one bf16 ulp of the float64 value (or, where the result cancels to near zero, within float32 rounding of the inputs). */
function expectClose(out: Map<string, { dtype: string; bytes: Uint8Array }>, w: (typeof WEIGHTS)[number], want: (i: number) => { v: number; scale: number }) {
  const t = out.get(w.name)!;
  expect(t.dtype).toBe('BF16');
  const bits = new Uint16Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 2);
  for (let i = 0; i < bits.length; i++) {
    const { v, scale } = want(i);
    const g = bf16BitsToF32(bits[i]!);
    const ulp = v === 0 && g === 0 ? 0 : 2 ** (Math.floor(Math.log2(Math.max(Math.abs(v), Math.abs(g)))) - 7);
    if (Math.abs(g - v) > Math.max(ulp, scale * 2 ** -22)) expect.fail(`${w.name}[${i}]: ${g}, want ${v}`);
  }
}

type Weight = (typeof WEIGHTS)[number];
type Want = (i: number) => { v: number; scale: number };

const TA = `merge_method: task_arithmetic\nbase_model: ${path('base')}\nmodels:\n  - {model: ${path('a')}, parameters: {weight: 0.75}}\n  - {model: ${path('b')}, parameters: {weight: 0.5}}\n`;
const TIES = `merge_method: ties\nbase_model: ${path('base')}\nmodels:\n  - {model: ${path('a')}, parameters: {weight: 1, density: 1}}\n  - {model: ${path('b')}, parameters: {weight: 1, density: 1}}\n`;
const SLERP = `merge_method: slerp\nbase_model: ${path('a')}\nmodels:\n  - {model: ${path('a')}}\n  - {model: ${path('b')}}\nparameters: {t: 0.5}\n`;

/** float64 task arithmetic on the dequantised weights */
const taWant =
  (w: Weight): Want =>
  (i) => {
    const [x, a, b] = [value(models.base, w, i), value(models.a, w, i), value(models.b, w, i)];
    return { v: x + 0.75 * (a - x) + 0.5 * (b - x), scale: Math.max(Math.abs(x), Math.abs(a), Math.abs(b)) };
  };

/** float64 TIES at density 1: sign election, disjoint mean */
const tiesWant =
  (w: Weight): Want =>
  (i) => {
    const x = value(models.base, w, i);
    const d = [value(models.a, w, i) - x, value(models.b, w, i) - x];
    const sign = Math.sign(d[0]! + d[1]!);
    const kept = d.filter((v) => v !== 0 && Math.sign(v) === sign);
    return { v: x + (kept.length ? kept.reduce((s, v) => s + v, 0) / kept.length : 0), scale: Math.max(Math.abs(x), ...d.map(Math.abs)) };
  };

/** float64 SLERP at t = 0.5 over the whole tensor */
function slerpWant(w: Weight): Want {
  const n = w.shape[0]! * w.shape[1]!;
  const a = Float64Array.from({ length: n }, (_, i) => value(models.a, w, i));
  const b = Float64Array.from({ length: n }, (_, i) => value(models.b, w, i));
  const norm = (v: Float64Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const [na, nb] = [norm(a), norm(b)];
  const dot = a.reduce((s, x, i) => s + (x / na) * (b[i]! / nb), 0);
  const theta = Math.acos(dot);
  const k = Math.sin(theta / 2) / Math.sin(theta);
  return (i) => ({ v: k * a[i]! + k * b[i]!, scale: Math.max(Math.abs(a[i]!), Math.abs(b[i]!)) });
}

/**
 * A re-quantised weight: E4M3 values with float32 block scales of block max / 448; dequantised,
 * each element within one E4M3 ulp (at its block's scale) of the float64 value.
 */
function expectCloseFp8(out: Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>, w: Weight, want: Want) {
  const t = out.get(w.name)!;
  const s = out.get(`${w.name}_scale_inv`)!;
  const [rows, cols] = w.shape as [number, number];
  const scaleCols = Math.ceil(cols / B);
  expect(t.dtype).toBe('F8_E4M3');
  expect([s.dtype, ...s.shape]).toEqual(['F32', Math.ceil(rows / B), scaleCols]);
  const scales = new Float32Array(s.bytes.slice().buffer);
  const blockMax = new Float64Array(scales.length);
  for (let i = 0; i < t.bytes.length; i++) {
    const k = Math.floor(Math.floor(i / cols) / B) * scaleCols + Math.floor((i % cols) / B);
    const { v, scale } = want(i);
    blockMax[k] = Math.max(blockMax[k]!, Math.abs(v));
    const g = FP8_VALUES.F8_E4M3[t.bytes[i]!]! * scales[k]!;
    // E4M3 has 3 mantissa bits; below 2^-6 (times the scale) it is subnormal with a fixed quantum
    const ulp = Math.max(2 ** (Math.floor(Math.log2(Math.max(Math.abs(v), Math.abs(g), 1e-300))) - 3), 2 ** -9 * scales[k]!);
    if (Math.abs(g - v) > Math.max(ulp, scale * 2 ** -22)) expect.fail(`${w.name}[${i}]: ${g}, want ${v}`);
  }
  for (let k = 0; k < scales.length; k++)
    if (Math.abs(scales[k]! - blockMax[k]! / 448) > 1e-5 * scales[k]!) expect.fail(`${w.name} block ${k}: scale ${scales[k]}, want ${blockMax[k]! / 448}`);
}

describe('block-scaled FP8 checkpoints', () => {
  it('task arithmetic: bf16 output, scales neither merged nor written, quantization_config removed', async () => {
    const out = await merged('ta', TA);
    expect([...out.keys()].sort()).toEqual([...WEIGHTS.map((w) => w.name), NORM.name].sort());
    const config = JSON.parse(readFileSync(join(path('ta-out'), 'config.json'), 'utf8'));
    expect(config.quantization_config).toBeUndefined();
    expect(out.get(NORM.name)!.dtype).toBe('F32');
    for (const w of WEIGHTS) expectClose(out, w, taWant(w));
  });

  it('TIES (sign election, disjoint mean) and SLERP', async () => {
    const ties = await merged('ties', TIES);
    for (const w of WEIGHTS) expectClose(ties, w, tiesWant(w));
    const slerp = await merged('slerp', SLERP);
    for (const w of WEIGHTS) expectClose(slerp, w, slerpWant(w));
  });

  it('out_dtype float8_e4m3fn: re-quantised with new block scales, quantization_config kept; task arithmetic, TIES and SLERP', async () => {
    for (const [name, recipe, want] of [
      ['ta-fp8', TA, taWant],
      ['ties-fp8', TIES, tiesWant],
      ['slerp-fp8', SLERP, slerpWant],
    ] as const) {
      const out = await merged(name, `${recipe}out_dtype: float8_e4m3fn\n`);
      expect([...out.keys()].sort(), name).toEqual([...WEIGHTS.flatMap((w) => [w.name, `${w.name}_scale_inv`]), NORM.name].sort());
      expect(out.get(NORM.name)!.dtype).toBe('F32');
      const config = JSON.parse(readFileSync(join(path(`${name}-out`), 'config.json'), 'utf8'));
      expect(config.quantization_config).toMatchObject({ quant_method: 'fp8', weight_block_size: [B, B] });
      for (const w of WEIGHTS) expectCloseFp8(out, w, want(w));
    }
  });

  it('out_dtype float8_e4m3fn without block-scaled inputs: one error, exit 2, no output', async () => {
    await write(path('plain'), models.a, (list) => list.splice(0, list.length - 1), null);
    writeFileSync(join(dir, 'plain.yaml'), `merge_method: linear\nmodels:\n  - {model: ${path('plain')}, parameters: {weight: 1}}\nout_dtype: float8_e4m3fn\n`);
    const r = await tessera(['merge', join(dir, 'plain.yaml'), '--out', path('plain-out'), '--no-fsync']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/out_dtype float8_e4m3fn re-quantises block-scaled FP8 weights, and no input weight is block-scaled FP8/);
    expect(existsSync(path('plain-out'))).toBe(false);
  });

  it('gives the same bytes for any worker count and slice size (bf16 slices cut inside 128-row blocks, FP8 ones at their edges)', async () => {
    for (const [name, recipe] of [
      ['bf16', TA],
      ['fp8', `${TA}out_dtype: float8_e4m3fn\n`],
    ]) {
      const one = await merged(`${name}-w1`, recipe!, ['--workers', '1']);
      const two = await merged(`${name}-w2`, recipe!, ['--workers', '2', '--slice-mb', '1']);
      expect([...two.keys()].sort()).toEqual([...one.keys()].sort());
      for (const [t, v] of one) expect(same(v.bytes, two.get(t)!.bytes), `${name} ${t}`).toBe(true);
    }
  });

  describe('on worker processes over NATS', () => {
    const cluster = natsWithWorkers(2);
    it('gives the bytes of the embedded merge (input scales and re-quantised output scales travel with the task)', async () => {
      for (const [name, recipe] of [
        ['bf16', TA],
        ['fp8', `${TA}out_dtype: float8_e4m3fn\n`],
      ]) {
        const local = await merged(`${name}-local`, recipe!);
        const remote = await merged(`${name}-remote`, recipe!, ['--nats', cluster.nats.url, '--slice-mb', '1']);
        expect([...remote.keys()].sort()).toEqual([...local.keys()].sort());
        for (const [t, v] of local) expect(same(v.bytes, remote.get(t)!.bytes), `${name} ${t}`).toBe(true);
      }
    });
  });

  it('refuses a scale of the wrong shape, a missing scale and an unknown block size: one error naming the tensor, exit 2, no output', async () => {
    const w = WEIGHTS[0]!.name;
    await write(path('bad-shape'), models.b, (list) => {
      const s = list.find((t) => t.name === `${w}_scale_inv`)!;
      s.shape = [s.shape[1]!, s.shape[0]!];
    });
    await write(path('no-scale'), models.b, (list) =>
      list.splice(
        list.findIndex((t) => t.name === `${w}_scale_inv`),
        1,
      ),
    );
    await write(path('no-block'), models.b, () => {}, { quant_method: 'fp8', activation_scheme: 'dynamic' });
    for (const [m, message] of [
      [
        'bad-shape',
        new RegExp(`scale tensor ${w.replaceAll('.', '\\.')}_scale_inv is F32 \\[5, 18\\]; 128×128 blocks of \\[2200, 600\\] need F32 \\[18, 5\\]`),
      ],
      ['no-scale', new RegExp(`FP8 weight ${w.replaceAll('.', '\\.')} has no scale tensor`)],
      ['no-block', /config\.json: quantization_config\.weight_block_size null: only block-scaled FP8/],
    ] as const) {
      writeFileSync(
        join(dir, `${m}.yaml`),
        `merge_method: task_arithmetic\nbase_model: ${path('base')}\nmodels:\n  - {model: ${path(m)}, parameters: {weight: 1}}\n`,
      );
      const r = await tessera(['merge', join(dir, `${m}.yaml`), '--out', path(`${m}-out`), '--no-fsync']);
      expect(r.code, m).toBe(2);
      expect(r.stderr.trim().split('\n'), m).toHaveLength(1);
      expect(r.stderr, m).toMatch(message);
      expect(existsSync(path(`${m}-out`)), m).toBe(false);
    }
  });
});
