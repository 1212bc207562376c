// A slice run stripe by stripe must give the bytes (and statistics) of one run over the whole
// slice, tie quotas included: the inputs put many task-vector entries exactly on the thresholds.
import { describe, expect, it } from 'vitest';
import { encode } from './codec.js';
import type { MaskSpec, MergeSpec, StatsResult, StatsSpec } from './kernel-spec.js';
import { BLOCK, CHUNK } from './layout.js';
import { maskKey } from './rng.js';
import { MERGE_STRIPE, mergeStripes, statsStripes, stripeOf } from './stripes.js';
import { seeded } from './testing.js';
import { KernelRuntime, type SliceLayout } from './wasm-runtime.js';

const THR = 2 ** -8; // f32 bits 0x3b800000
const LO = 2 ** -9; // 0x3b000000

/** A zero base and experts whose entries are often exactly ±LO or ±THR. */
function inputs(n: number, models: number, seed: number): Uint8Array[] {
  const r = seeded(seed);
  const levels = [LO, THR, 1.5 * LO, 2 * THR, 0.5 * LO, 0];
  const base = new Float64Array(n);
  const experts = Array.from({ length: models }, () => Float64Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1) * levels[Math.floor(r() * levels.length)]!));
  return [base, ...experts].map((x) => encode(x, 'BF16'));
}

function whole(spec: MergeSpec, layout: SliceLayout, data: Uint8Array[], elemStart: number) {
  const rt = new KernelRuntime();
  rt.prepare(layout).forEach((v, k) => v.set(data[k]!));
  const r = rt.merge(spec, elemStart);
  return { ...r, bytes: r.bytes.slice() };
}

function striped(spec: MergeSpec, layout: SliceLayout, data: Uint8Array[], elemStart: number, stripe: number) {
  const out = new Uint8Array(layout.n * 2);
  const writes: number[] = [];
  const r = mergeStripes(
    new KernelRuntime(),
    layout,
    spec,
    elemStart,
    (k, off, into) => into.set(data[k]!.subarray(off * 2, off * 2 + into.byteLength)),
    (off, bytes) => {
      writes.push(off);
      out.set(bytes, off * 2);
    },
    stripe,
  );
  return { ...r, bytes: out, writes };
}

const key = (k: number) => maskKey(3, 'model.layers.0.mlp.down_proj.weight', k);
const tvmerge = (consensus: 'sum' | 'ties', mask: (k: number) => MaskSpec): MergeSpec => ({
  kernel: 'tvmerge',
  consensus,
  normalize: consensus === 'ties',
  div: 1,
  lambda: 1,
  models: [0, 1, 2].map((k) => ({ weight: 0.5 + k / 4, scale: 1, mask: mask(k) })),
});

describe('a slice merged stripe by stripe', () => {
  const n = 20_003;
  const layout: SliceLayout = { n, inputDtypes: ['BF16', 'BF16', 'BF16', 'BF16'], rounding: 'BF16', outDtype: 'BF16' };
  const data = inputs(n, 3, 11);
  const specs: [string, MergeSpec][] = [
    ['ties with top-k quotas', tvmerge('ties', (k) => ({ kind: 'topk', thr: 0x3b800000, quota: 1500 + 700 * k }))],
    [
      'breadcrumbs windows with quotas',
      tvmerge('sum', (k) => ({ kind: 'window', lo: 0x3b000000, dropLo: 900 + 500 * k, hi: 0x3b800000, keepHi: 2100 - 300 * k })),
    ],
    ['dare (random masks)', tvmerge('ties', (k) => ({ kind: 'bernoulli', key: key(k), p: 0.3 }))],
    ['task arithmetic', tvmerge('sum', () => ({ kind: 'none' }))],
    ['linear', { kernel: 'linear', weights: [0.1, 0.2, 0.3, 0.4], normalize: true, div: 1 }],
    ['model stock', { kernel: 'stock', t: 0.3, rowLen: 100 }],
  ];
  for (const [name, spec] of specs) {
    it(`${name}: the bytes of one run over the whole slice`, () => {
      const a = whole(spec, layout, data, 5 * BLOCK);
      const b = striped(spec, layout, data, 5 * BLOCK, CHUNK);
      expect(stripeOf(spec, layout)).toBe(spec.kernel === 'linear' || spec.kernel === 'tvmerge' || spec.kernel === 'stock' ? MERGE_STRIPE : undefined);
      expect(b.writes.length).toBe(Math.ceil(n / CHUNK));
      expect(b.nonFinite).toBe(0);
      expect(Buffer.from(b.bytes).equals(Buffer.from(a.bytes))).toBe(true);
    });
  }

  it('the quotas matter: starting every stripe from the whole quota gives other bytes', () => {
    const spec = specs[0]![1];
    const a = whole(spec, layout, data, 0);
    const rt = new KernelRuntime();
    const out = new Uint8Array(n * 2);
    for (let off = 0; off < n; off += CHUNK) {
      const m = Math.min(CHUNK, n - off);
      rt.prepare({ ...layout, n: m }).forEach((v, k) => v.set(data[k]!.subarray(off * 2, (off + m) * 2)));
      out.set(rt.merge(spec, off).bytes, off * 2);
    }
    expect(Buffer.from(out).equals(Buffer.from(a.bytes))).toBe(false);
  });

  it('a non-finite stripe: nothing from it on is written, the counts are those of the whole slice', () => {
    const bad = data.map((d) => d.slice());
    const e = 3 * CHUNK + 17;
    new DataView(bad[2]!.buffer).setUint16(e * 2, 0x7fc0, true); // NaN in one expert
    new DataView(bad[1]!.buffer).setUint16((e + 5000) * 2, 0x7f80, true); // +Inf in another
    const spec = specs[0]![1]; // masked: the kernel counts the task vectors' non-finite entries
    const a = whole(spec, layout, bad, 0);
    const b = striped(spec, layout, bad, 0, CHUNK);
    expect(a.inputNonFinite).toBe(2);
    expect([b.inputNonFinite, b.firstInputNonFinite, b.nonFinite, b.firstNonFinite]).toEqual([
      a.inputNonFinite,
      a.firstInputNonFinite,
      a.nonFinite,
      a.firstNonFinite,
    ]);
    expect(b.firstInputNonFinite).toBe(e);
    expect(b.writes).toEqual([0, CHUNK, 2 * CHUNK]);
  });

  const della = (rowLen: number) => tvmerge('ties', (k) => ({ kind: 'della', key: key(k), density: 0.5, epsilon: 0.2, rowLen }));

  it('DELLA in stripes of whole rows: the bytes of one run over the whole slice', () => {
    const spec = della(100);
    const a = whole(spec, layout, data, 5 * BLOCK);
    const b = striped(spec, layout, data, 5 * BLOCK, 20 * 100);
    expect(b.writes.length).toBe(Math.ceil(n / 2000));
    expect(Buffer.from(b.bytes).equals(Buffer.from(a.bytes))).toBe(true);
    // stripes that cut rows rank other elements together: other bytes
    const c = striped(spec, layout, data, 5 * BLOCK, CHUNK);
    expect(Buffer.from(c.bytes).equals(Buffer.from(a.bytes))).toBe(false);
  });

  it("DELLA's stripe is whole rows near the merge stripe", () => {
    expect(stripeOf(della(100), layout)).toBe(Math.floor(MERGE_STRIPE / 100) * 100);
    expect(stripeOf(della(5632), layout)).toBe(46 * 5632);
    expect(stripeOf(della(MERGE_STRIPE * 3), layout)).toBe(MERGE_STRIPE * 3);
    const mixed: MergeSpec = { ...della(100), models: [...(della(100) as { models: [] }).models, ...(della(7) as { models: [] }).models] };
    expect(stripeOf(mixed, layout)).toBeUndefined();
  });

  it('specs that need the whole slice have no stripe', () => {
    expect(
      stripeOf(
        tvmerge('ties', (k) => ({ kind: 'probs', key: key(k), probs: new Float32Array(n) })),
        layout,
      ),
    ).toBeUndefined();
    expect(stripeOf({ kernel: 'stockRows', rowLen: 10 }, layout)).toBeUndefined();
    expect(stripeOf({ kernel: 'ram', epsilon: 1e-5, lambdas: [1, 1, 1] }, layout)).toBeUndefined();
    expect(stripeOf(specs[3]![1], { ...layout, rounding: 'F64' })).toBeUndefined();
    // rows (or rows and blocks) longer than 16 blocks
    expect(stripeOf(della(16 * BLOCK + 1), layout)).toBeUndefined();
    expect(
      stripeOf({ kernel: 'l1', masks: [0, 1, 2].map((k) => ({ kind: 'della', key: key(k), density: 0.5, epsilon: 0.2, rowLen: 17 })) }, layout),
    ).toBeUndefined();
  });
});

describe('statistics stripe by stripe', () => {
  const n = 2 * BLOCK + 4099;
  const layout: SliceLayout = { n, inputDtypes: ['BF16', 'BF16', 'BF16', 'BF16'], rounding: 'BF16' };
  const data = inputs(n, 3, 5);
  const specs: StatsSpec[] = [
    { kernel: 'histHi' },
    {
      kernel: 'histLo',
      entries: [
        { model: 0, bin: 0x3b80 },
        { model: 2, bin: 0x3b00 },
      ],
    },
    { kernel: 'l1', masks: [0, 1, 2].map((k) => ({ kind: 'topk' as const, thr: 0x3b800000, quota: 200_000 + 150_000 * k })) },
    { kernel: 'gram', mode: 'delta' },
  ];
  const plain = (r: StatsResult) => JSON.stringify(r, (_k, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v));
  for (const spec of specs) {
    it(`${spec.kernel}: the results of one run over the whole slice`, () => {
      const rt = new KernelRuntime();
      rt.prepare(layout).forEach((v, k) => v.set(data[k]!));
      const a = rt.stats(spec, BLOCK);
      const b = statsStripes(new KernelRuntime(), layout, spec, BLOCK, (k, off, into) => into.set(data[k]!.subarray(off * 2, off * 2 + into.byteLength)));
      expect(plain(b)).toBe(plain(a));
    });
  }

  it('DELLA L1 norms in stripes of whole rows and whole blocks: the results of one run over the whole slice', () => {
    const spec: StatsSpec = { kernel: 'l1', masks: [0, 1, 2].map((k) => ({ kind: 'della', key: key(k), density: 0.4, epsilon: 0.1, rowLen: 4096 })) };
    expect(stripeOf(spec, layout)).toBe(BLOCK);
    const rt = new KernelRuntime();
    rt.prepare(layout).forEach((v, k) => v.set(data[k]!));
    const a = rt.stats(spec, BLOCK);
    const b = statsStripes(new KernelRuntime(), layout, spec, BLOCK, (k, off, into) => into.set(data[k]!.subarray(off * 2, off * 2 + into.byteLength)), BLOCK);
    expect(plain(b)).toBe(plain(a));
  });

  it('a stripe that is not whole blocks is refused', () => {
    expect(() => statsStripes(new KernelRuntime(), layout, specs[0]!, 0, () => undefined, CHUNK)).toThrow(/whole blocks/);
  });
});
