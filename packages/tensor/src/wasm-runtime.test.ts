// The WebAssembly kernels must produce exactly the bytes of the TypeScript reference.
import { describe, expect, it } from 'vitest';
import { decode, encode, roundTo } from './codec.js';
import type { FloatDtype } from './dtype.js';
import type { InputRounding, MaskSpec, MergeSpec, StatsSpec } from './kernel-spec.js';
import { F32 } from './reference/precision.js';
import { referenceMerge, referenceStats } from './kernels.js';
import { maskKey } from './rng.js';
import { syntheticTensors } from './testing.js';
import { KernelRuntime } from './wasm-runtime.js';
import { BLOCK } from './layout.js';

const rt = new KernelRuntime();

function inputsOf(n: number, models: number, dtypes: FloatDtype[], seed: number) {
  const t = syntheticTensors(n, models, 'F64', seed);
  return t.map((x, i) => ({ dtype: dtypes[i % dtypes.length]!, bytes: encode(decode(x.bytes, 'F64'), dtypes[i % dtypes.length]!) }));
}

function both(spec: MergeSpec, n: number, dtypes: FloatDtype[], out: FloatDtype, rounding: InputRounding, elemStart = 0, models = 3) {
  const inputs = inputsOf(n, models, dtypes, n + models);
  const views = rt.prepare({ n, inputDtypes: inputs.map((i) => i.dtype), rounding, outDtype: out });
  views.forEach((v, k) => v.set(inputs[k]!.bytes));
  const wasm = rt.merge(spec, elemStart).bytes.slice();
  const values = inputs.map((i) => decode(i.bytes, i.dtype).map((x) => roundTo(x, rounding ?? 'F32')));
  const ref = encode(referenceMerge(spec, values, n, elemStart, F32), out);
  return { wasm, ref };
}

const key = maskKey(7, 'model.layers.0.mlp.up_proj.weight', 0);
const masks: MaskSpec[] = [
  { kind: 'none' },
  { kind: 'zero' },
  { kind: 'topk', thr: 0x3b000000, quota: 3 },
  { kind: 'window', lo: 0x3a000000, dropLo: 2, hi: 0x3b800000, keepHi: 5 },
  { kind: 'bernoulli', key, p: 0.3 },
  // quotas a whole chunk (2048 elements) cannot exhaust: the kernels decide such chunks at once
  { kind: 'topk', thr: 0x3b800000, quota: 2100 },
  { kind: 'window', lo: 0x3b800000, dropLo: 2100, hi: 0x3c000000, keepHi: 2300 },
  // DELLA: short rows (and a last row cut short), and rows longer than a chunk
  { kind: 'della', key, density: 0.4, epsilon: 0.15, rowLen: 3 },
  { kind: 'della', key: maskKey(7, 'x', 1), density: 0.5, epsilon: 0.3, rowLen: 2100 },
];

describe('merge kernels match the reference byte for byte', () => {
  const sizes = [1, 7, 8, 2049, 5000];
  const storages: FloatDtype[][] = [['BF16'], ['F32'], ['F16', 'BF16', 'F64'], ['F8_E4M3', 'BF16', 'F8_E5M2']];
  for (const n of sizes) {
    for (const dtypes of storages) {
      for (const out of ['BF16', 'F16', 'F32', 'F64'] as const) {
        it(`linear/tvmerge/stock n=${n} in=${dtypes.join('+')} out=${out}`, () => {
          const specs: MergeSpec[] = [
            { kernel: 'linear', weights: [0.25, 0.5, -1, 0.3], normalize: true, div: 0.05 },
            { kernel: 'linear', weights: [0.25, 0.5, -1, 0.3], normalize: false, div: 1 },
            {
              kernel: 'tvmerge',
              consensus: 'sum',
              normalize: true,
              div: 1.7,
              lambda: 0.7,
              models: [0, 1, 2].map((k) => ({ weight: 0.5 + k, scale: 1, mask: { kind: 'none' } })),
            },
            {
              kernel: 'tvmerge',
              consensus: 'ties',
              normalize: true,
              div: 1,
              lambda: 1.3,
              models: [0, 1, 2].map((k) => ({ weight: k === 1 ? -0.5 : 1, scale: 1 + k / 3, mask: masks[(k + n) % masks.length]! })),
            },
            {
              kernel: 'tvmerge',
              consensus: 'ties',
              normalize: false,
              div: 1,
              lambda: 1,
              models: [0, 1, 2].map((k) => ({ weight: 1, scale: 1, mask: masks[(k + 2) % masks.length]! })),
            },
            {
              kernel: 'tvmerge',
              consensus: 'sum',
              normalize: false,
              div: 1,
              lambda: 0.9,
              models: [0, 1, 2].map((k) => ({ weight: 0.7, scale: 1.2, mask: masks[(k + n + 4) % masks.length]! })),
            },
            { kernel: 'stock', t: 0.8, rowLen: 1 },
            { kernel: 'stock', t: 0, rowLen: 3, rowT: Float32Array.from({ length: Math.ceil(n / 3) }, (_, i) => i / 7) },
            { kernel: 'stockRows', rowLen: Math.min(n, 8) },
          ];
          for (const spec of specs) {
            const { wasm, ref } = both(spec, n, dtypes, out, undefined, BLOCK * 3);
            expect(Buffer.from(wasm).equals(Buffer.from(ref)), `${spec.kernel} ${JSON.stringify(spec).slice(0, 120)}`).toBe(true);
          }
        });
      }
    }
  }

  it('random masks where element indices cross 2^32 (a chunk whose elements have two high words)', () => {
    const spec: MergeSpec = {
      kernel: 'tvmerge',
      consensus: 'ties',
      normalize: false,
      div: 1,
      lambda: 1,
      models: [0, 1, 2].map((k) => ({ weight: 1, scale: 1.5, mask: { kind: 'bernoulli', key: maskKey(1, 't', k), p: 0.4 } })),
    };
    for (const start of [2 ** 32 - 1024, 2 ** 33 - 2048]) {
      const { wasm, ref } = both(spec, 5000, ['BF16'], 'BF16', undefined, start);
      expect(Buffer.from(wasm).equals(Buffer.from(ref)), String(start)).toBe(true);
    }
  });

  it('DELLA ranks ties by element index, NaN and Inf included, as the reference', () => {
    // few distinct task-vector magnitudes (ties everywhere); NaNs of two payloads and an Inf in one row
    const n = 5000;
    const base = Float64Array.from({ length: n }, (_, e) => 0.5 + (e % 3) / 8);
    const experts = [1, 2, 3].map((k) => Float64Array.from(base, (b, e) => b + (((e * k) % 5) - 2) / 64));
    experts[1]![10] = Number.NaN;
    experts[1]![11] = Number.POSITIVE_INFINITY;
    const spec: MergeSpec = {
      kernel: 'tvmerge',
      consensus: 'ties',
      normalize: true,
      div: 1,
      lambda: 1,
      models: [0, 1, 2].map((k) => ({ weight: 1, scale: 1, mask: { kind: 'della', key: maskKey(3, 'w', k), density: 0.5, epsilon: 0.2, rowLen: 1000 } })),
    };
    for (const dtype of ['BF16', 'F32'] as const) {
      const inputs = [base, ...experts].map((v) => encode(v, dtype));
      const at = new DataView(inputs[2]!.buffer, inputs[2]!.byteOffset);
      if (dtype === 'BF16') at.setUint16(24, 0xff81, true);
      else at.setUint32(48, 0xff810000, true);
      const views = rt.prepare({ n, inputDtypes: inputs.map(() => dtype), rounding: undefined, outDtype: 'F32' });
      views.forEach((v, k) => v.set(inputs[k]!));
      const wasm = rt.merge(spec, 0).bytes.slice();
      const ref = encode(
        referenceMerge(
          spec,
          inputs.map((i) => decode(i, dtype)),
          n,
          0,
          F32,
        ),
        'F32',
      );
      expect(Buffer.from(wasm).equals(Buffer.from(ref)), dtype).toBe(true);
    }
  });

  it('rounds inputs to the recipe dtype first', () => {
    for (const rounding of ['BF16', 'F16', 'F32'] as const) {
      const spec: MergeSpec = { kernel: 'linear', weights: [1, 1, 1, 1], normalize: true, div: 4 };
      const { wasm, ref } = both(spec, 1000, ['F32', 'F64'], 'F32', rounding);
      expect(Buffer.from(wasm).equals(Buffer.from(ref)), rounding).toBe(true);
    }
  });

  it('computes in float64 when the recipe dtype is float64', () => {
    const spec: MergeSpec = { kernel: 'linear', weights: [1 / 3, 1 / 3, 1 / 3, 0], normalize: false, div: 1 };
    const { wasm, ref } = both(spec, 100, ['F64'], 'F64', 'F64');
    const r64 = decode(ref, 'F64');
    expect(Array.from(decode(wasm, 'F64'))).not.toEqual(Array.from(r64)); // the f32 reference differs
    const values = inputsOf(100, 3, ['F64'], 103).map((i) => decode(i.bytes, 'F64'));
    const w = 1 / 3;
    expect(Array.from(decode(wasm, 'F64'))).toEqual(
      Array.from(values[0]!, (_, e) => w * values[0]![e]! + w * values[1]![e]! + w * values[2]![e]! + 0 * values[3]![e]!),
    );
  });

  it('reports non-finite outputs with the first index', () => {
    const inputs = [encode([1, 2, 3], 'F32'), encode([1, 2, 3], 'F32')];
    const views = rt.prepare({ n: 3, inputDtypes: ['F32', 'F32'], rounding: undefined, outDtype: 'BF16' });
    views.forEach((v, k) => v.set(inputs[k]!));
    const r = rt.merge({ kernel: 'linear', weights: [1, -1], normalize: true, div: 0 }, 0);
    expect(r.nonFinite).toBe(3);
    expect(r.firstNonFinite).toBe(0);
  });
});

describe('stats kernels match the reference', () => {
  for (const n of [5, 2048, 3000, BLOCK + 13]) {
    for (const dtypes of [['BF16'], ['F32'], ['F8_E4M3']] as FloatDtype[][]) {
      it(`n=${n} ${dtypes[0]}`, () => {
        const inputs = inputsOf(n, 3, dtypes, n);
        const values = inputs.map((i) => decode(i.bytes, i.dtype));
        const specs: StatsSpec[] = [
          { kernel: 'histHi' },
          {
            kernel: 'histLo',
            entries: [
              { model: 0, bin: 0x3b00 },
              { model: 2, bin: 0x3a80 },
              { model: 0, bin: 0x3b80 },
            ],
          },
          { kernel: 'l1', masks: [masks[2]!, masks[4]!, masks[3]!] },
          { kernel: 'l1', masks: [masks[7]!, masks[8]!, masks[0]!] },
          { kernel: 'gram', mode: 'raw' },
          { kernel: 'gram', mode: 'delta' },
        ];
        for (const spec of specs) {
          const views = rt.prepare({ n, inputDtypes: inputs.map((i) => i.dtype), rounding: undefined });
          views.forEach((v, k) => v.set(inputs[k]!.bytes));
          const wasm = rt.stats(spec, 4 * BLOCK);
          const ref = referenceStats(spec, values, n, 4 * BLOCK, F32);
          expect(wasm, spec.kernel).toEqual(ref);
        }
      });
    }
  }
});
