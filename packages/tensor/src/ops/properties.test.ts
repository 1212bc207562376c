// Properties that must hold for every operator: identical bytes for any slicing, exact top-k,
// DARE keep rates within 3 standard deviations and L1 rescaling.
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../codec.js';
import { BLOCK } from '../layout.js';
import { mergeLocally, type TensorBytes } from '../local.js';
import { maskKey, uniform } from '../rng.js';
import { seeded, syntheticTensors } from '../testing.js';
import { findOperator } from './registry.js';
import { type ParamValue, type ProgramInput, defaultParams } from './types.js';

function merge(
  name: string,
  inputs: TensorBytes[],
  shape: number[],
  global: Record<string, ParamValue>,
  perModel: Record<string, ParamValue>,
  sliceElems?: number,
  seed = 0,
) {
  const op = findOperator(name)!;
  const defaults = defaultParams(op);
  const base = op.base === 'required';
  const progInputs: ProgramInput[] = inputs.map((_, i) => ({
    role: base && i === 0 ? 'base' : 'model',
    model: base ? i - 1 : i,
    params: { ...defaults, weight: 0.5 + i / 4, ...perModel },
  }));
  if (name === 'nuslerp')
    progInputs.forEach((p) => {
      p.role = 'model';
    });
  const numel = shape.reduce((a, b) => a * b, 1);
  return mergeLocally(op, { name: 'model.layers.3.mlp.down_proj.weight', shape, numel, inputs: progInputs, params: { ...defaults, ...global }, seed }, inputs, {
    outDtype: 'BF16',
    backend: 'wasm',
    ...(sliceElems ? { sliceElems } : {}),
  });
}

const cases: [string, Record<string, ParamValue>, Record<string, ParamValue>][] = [
  ['linear', {}, {}],
  ['task_arithmetic', { lambda: 0.7 }, {}],
  ['ties', {}, { density: 0.2 }],
  ['ties', { rescale: true }, { density: 0.35 }],
  ['dare_linear', {}, { density: 0.2 }],
  ['dare_ties', {}, { density: 0.2 }],
  ['slerp', { t: 0.3 }, {}],
  ['model_stock', {}, {}],
  ['breadcrumbs', {}, { density: 0.3, gamma: 0.05 }],
  ['breadcrumbs_ties', { rescale: true }, { density: 0.5, gamma: 0.01 }],
  ['della', {}, { density: 0.4, epsilon: 0.1 }],
  ['della_linear', {}, { density: 0.3 }],
  ['nuslerp', {}, {}],
  ['nuslerp', { nuslerp_flatten: false }, {}],
  ['multislerp', {}, {}],
  ['karcher', {}, {}],
  ['sce', { select_topk: 0.3 }, {}],
  ['ram', {}, {}],
  ['ramplus_tl', {}, {}],
  ['nearswap', { t: 0.001 }, {}],
  ['arcee_fusion', {}, {}],
];

describe('slicing invariance', () => {
  const shape = [2560, 1024]; // 2.5 blocks
  const models3 = syntheticTensors(shape[0]! * shape[1]!, 3, 'BF16', 11);
  for (const [name, global, perModel] of cases) {
    it(`${name} ${JSON.stringify({ ...global, ...perModel })} gives identical bytes for 1, 2 and 3 slices`, () => {
      const inputs = ['slerp', 'nearswap', 'arcee_fusion'].includes(name) ? models3.slice(0, 2) : name === 'nuslerp' ? models3.slice(1, 3) : models3;
      const whole = merge(name, inputs, shape, global, perModel);
      for (const sliceElems of [BLOCK, 2 * BLOCK]) {
        const sliced = merge(name, inputs, shape, global, perModel, sliceElems);
        expect(Buffer.from(sliced).equals(Buffer.from(whole)), `slice ${sliceElems}`).toBe(true);
      }
    });
  }
  it('model_stock filter_wise with row-aligned slices', () => {
    const s = [2048, 1536]; // quantum lcm(2^20, 1536) = 3 * 2^20 elements
    const inputs = syntheticTensors(s[0]! * s[1]!, 2, 'BF16', 5);
    const whole = merge('model_stock', inputs, s, { filter_wise: true }, {});
    const sliced = merge('model_stock', inputs, s, { filter_wise: true }, {}, BLOCK);
    expect(Buffer.from(sliced).equals(Buffer.from(whole))).toBe(true);
  });
});

describe('exact top-k', () => {
  it('keeps exactly the k largest |d|, lower index first among ties, for any slicing', () => {
    const n = 2 * BLOCK + 77;
    const rnd = seeded(4);
    // magnitudes from a small set (many ties) with random signs, 10% zeros
    const x = Float64Array.from({ length: n }, () => (rnd() < 0.1 ? 0 : ((rnd() < 0.5 ? -1 : 1) * Math.ceil(rnd() * 50)) / 1024));
    const inputs = [
      { dtype: 'F32' as const, bytes: encode(new Float64Array(n), 'F32') },
      { dtype: 'F32' as const, bytes: encode(x, 'F32') },
    ];
    for (const density of [0.2, 0.5]) {
      const k = Math.floor(density * n);
      // independent reference: sort indices by |x| descending, index ascending
      const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => Math.abs(x[b]!) - Math.abs(x[a]!) || a - b);
      const expected = new Set(order.slice(0, k));
      for (const sliceElems of [BLOCK, 4 * BLOCK]) {
        const out = decode(mergeF32('ties', inputs, n, { density, weight: 1 }, sliceElems), 'F32');
        let wrong = 0;
        for (let e = 0; e < n; e++) if ((out[e] !== 0) !== (expected.has(e) && x[e] !== 0) || (out[e] !== 0 && out[e] !== Math.fround(x[e]!))) wrong++;
        expect(wrong, `density ${density} slice ${sliceElems}`).toBe(0);
      }
    }
  });
});

function mergeF32(name: string, inputs: TensorBytes[], n: number, perModel: Record<string, ParamValue>, sliceElems: number) {
  const op = findOperator(name)!;
  const defaults = defaultParams(op);
  return mergeLocally(
    op,
    {
      name: 't',
      shape: [n],
      numel: n,
      seed: 0,
      params: defaults,
      inputs: [
        { role: 'base', model: -1, params: {} },
        { role: 'model', model: 0, params: { ...defaults, ...perModel } },
      ],
    },
    inputs,
    { outDtype: 'F32', backend: 'wasm', sliceElems },
  );
}

describe('DARE masks', () => {
  const n = 2 * BLOCK;
  const [b, x] = syntheticTensors(n, 1, 'F32', 9);
  const base = decode(b!.bytes, 'F32'),
    model = decode(x!.bytes, 'F32');
  const f32 = (name: string, global: Record<string, ParamValue>, density: number, seed = 0) => {
    const op = findOperator(name)!;
    const defaults = defaultParams(op);
    return decode(
      mergeLocally(
        op,
        {
          name: 't',
          shape: [n],
          numel: n,
          seed,
          params: { ...defaults, ...global },
          inputs: [
            { role: 'base', model: -1, params: {} },
            { role: 'model', model: 0, params: { ...defaults, weight: 1, density } },
          ],
        },
        [b!, x!],
        { outDtype: 'F32', backend: 'wasm', sliceElems: BLOCK },
      ),
      'F32',
    );
  };
  for (const density of [0.05, 0.2, 0.5, 0.9]) {
    it(`keeps a fraction within 3 sigma of density ${density}, element by element as u(e) < p`, () => {
      const out = f32('dare_linear', { rescale: false }, density);
      const key = maskKey(0, 't', 0);
      let nonzero = 0,
        kept = 0,
        mismatches = 0;
      for (let e = 0; e < n; e++) {
        const d = Math.fround(model[e]! - base[e]!);
        if (d === 0) continue;
        nonzero++;
        const k = out[e] !== base[e];
        if (k) kept++;
        if (k !== uniform(e, key) < Math.fround(density)) mismatches++;
      }
      const sigma = Math.sqrt(nonzero * density * (1 - density));
      expect(Math.abs(kept - nonzero * density)).toBeLessThan(3 * sigma);
      expect(mismatches).toBe(0);
    });
  }
  it('L1 rescale restores the task vector norm', () => {
    const out = f32('dare_linear', {}, 0.3);
    let before = 0,
      after = 0;
    for (let e = 0; e < n; e++) {
      before += Math.abs(Math.fround(model[e]! - base[e]!));
      after += Math.abs(out[e]! - base[e]!);
    }
    expect(after / before).toBeCloseTo(1, 3);
  });
  it('the seed changes the mask', () => {
    const a = f32('dare_linear', { rescale: false }, 0.5, 1),
      c = f32('dare_linear', { rescale: false }, 0.5, 2);
    let differ = 0;
    for (let e = 0; e < n; e++) if (a[e] !== c[e]) differ++;
    expect(differ).toBeGreaterThan(n * 0.3);
  });
});

describe('DELLA masks', () => {
  const shape = [1024, 1536];
  const n = shape[0]! * shape[1]!;
  const [b, x] = syntheticTensors(n, 1, 'F32', 21);
  const base = decode(b!.bytes, 'F32'),
    model = decode(x!.bytes, 'F32');
  const op = findOperator('della_linear')!;
  const defaults = defaultParams(op);
  const run = (rescale: boolean, sliceElems: number) =>
    decode(
      mergeLocally(
        op,
        {
          name: 't',
          shape,
          numel: n,
          seed: 3,
          params: { ...defaults, rescale },
          inputs: [
            { role: 'base', model: -1, params: {} },
            { role: 'model', model: 0, params: { ...defaults, weight: 1, density: 0.4, epsilon: 0.2 } },
          ],
        },
        [b!, x!],
        { outDtype: 'F32', backend: 'wasm', sliceElems },
      ),
      'F32',
    );
  it('keeps within 3 sigma of the expected count, more often at high magnitude rank', () => {
    const out = run(false, BLOCK);
    let expected = 0,
      variance = 0,
      kept = 0,
      keptTop = 0,
      keptBottom = 0,
      rowsTop = 0,
      rowsBottom = 0;
    const cols = shape[1]!;
    for (let r = 0; r < shape[0]!; r++) {
      const row = Array.from({ length: cols }, (_, j) => r * cols + j);
      const order = row.slice().sort((a, c) => Math.abs(model[a]! - base[a]!) - Math.abs(model[c]! - base[c]!) || a - c);
      order.forEach((e, rank) => {
        if (model[e] === base[e]) return;
        const p = 0.2 + (0.4 * rank) / (cols - 1);
        expected += p;
        variance += p * (1 - p);
        const k = out[e] !== base[e];
        if (k) kept++;
        if (rank >= cols * 0.9) {
          rowsTop++;
          if (k) keptTop++;
        }
        if (rank < cols * 0.1) {
          rowsBottom++;
          if (k) keptBottom++;
        }
      });
    }
    expect(Math.abs(kept - expected)).toBeLessThan(3 * Math.sqrt(variance));
    expect(keptTop / rowsTop).toBeGreaterThan(0.55); // p near 0.6 at the top ranks
    expect(keptBottom / rowsBottom).toBeLessThan(0.25); // p near 0.2 at the bottom
  });
  it('rescales to the L1 norm and gives the same masks for any slicing', () => {
    const a = run(true, BLOCK),
      c = run(true, 3 * BLOCK);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(true);
    let before = 0,
      after = 0;
    for (let e = 0; e < n; e++) {
      before += Math.abs(Math.fround(model[e]! - base[e]!));
      after += Math.abs(a[e]! - base[e]!);
    }
    expect(after / before).toBeCloseTo(1, 3);
  });
});
