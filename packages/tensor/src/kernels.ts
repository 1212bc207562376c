// One record per slice kernel. A record holds the kernel's TypeScript computation (the reference
// its WebAssembly kernel is held to byte for byte, and the runtime of kernels without one), its
// WebAssembly export with the argument values by slot name (the slots are declared once, in
// kernel-slots.json), and a resolve step when a spec needs the slice's values first.
import type { DellaMask, MaskSpec, MergeSpec, StatsResult, StatsSpec } from './kernel-spec.js';
import { CHUNK, HIST_HI_BINS, HIST_LO_BINS, blockCount } from './layout.js';
import { rowStockT } from './gram.js';
import * as ref from './reference/merge.js';
import type { Round } from './reference/precision.js';
import * as refStats from './reference/stats.js';
import * as ts from './slice-kernels/index.js';
import { signs } from './slice-kernels/signs.js';
import type { KernelArgs, KernelMemory } from './wasm-memory.js';

type Merge<K extends MergeSpec['kernel']> = Extract<MergeSpec, { kernel: K }>;
type Stats<K extends StatsSpec['kernel']> = Extract<StatsSpec, { kernel: K }>;

/** The slice as a WebAssembly kernel sees it: inputs converted to the storage at `stored`. */
export interface SliceIo {
  mem: KernelMemory;
  /** elements of the slice, and padded to the SIMD width */
  n: number;
  np: number;
  elemStart: number;
  /** addresses of the inputs in kernel storage; [0] is the base where the kernel takes one */
  stored: readonly number[];
  /** where per-element probabilities already lie in kernel memory (padded), if they do */
  probsAt(probs: Float32Array): number | undefined;
}

interface MergeIo extends SliceIo {
  outKind: number;
  out: number;
  /** (inputs + 3) chunks of f32 */
  scratch: number;
}

export interface MergeKernel<S extends MergeSpec> {
  reference(spec: S, inputs: Float64Array[], n: number, elemStart: number, r: Round): Float64Array;
  wasm?: {
    /** the export, without its storage suffix (_bf16, _f32); also the name of its slot layout */
    name: string;
    args(spec: S, io: MergeIo): KernelArgs;
    /** the kernel also counts non-finite task-vector entries (in the first argument slot) */
    countsInputs?: boolean;
  };
  /** a spec to run instead, computed from the slice (undefined: run this one) */
  resolve?(spec: S, inputs: SliceInputs, n: number, r: Round): MergeSpec | undefined;
}

export interface StatsKernel<S extends StatsSpec> {
  reference(spec: S, inputs: Float64Array[], n: number, elemStart: number, r: Round): StatsResult;
  /**
   * `into`: the result of the slice's earlier stripes, which a histogram kernel adds its counts to
   * and returns (no copies per stripe); other kernels return a result of their own.
   */
  wasm?: { name: string; run(spec: S, io: SliceIo, call: (args: KernelArgs) => void, into?: StatsResult): StatsResult };
  resolve?(spec: S, inputs: SliceInputs, n: number, r: Round): StatsSpec | undefined;
}

const MASK_KIND: Record<Exclude<MaskSpec['kind'], 'della'>, number> = { none: 0, topk: 1, window: 2, bernoulli: 3, probs: 4, zero: 5 };

/** One input's block of slots: its address, weight, scale and mask (m0.. in the order MASK_SLOTS names them). */
function modelBlock(io: SliceIo, ptr: number, weight: number, scale: number, m: MaskSpec): Record<string, number> {
  const w = Math.fround(weight),
    sc = Math.fround(scale);
  switch (m.kind) {
    case 'della':
      throw new Error('della masks are resolved before the kernel runs');
    case 'topk':
      return block(ptr, w, sc, MASK_KIND.topk, m.thr, m.quota);
    case 'window':
      return block(ptr, w, sc, MASK_KIND.window, m.lo, m.dropLo, m.hi, m.keepHi);
    case 'bernoulli':
      return block(ptr, w, sc, MASK_KIND.bernoulli, m.key[0], m.key[1], Math.fround(m.p));
    case 'probs':
      return block(ptr, w, sc, MASK_KIND.probs, m.key[0], m.key[1], io.probsAt(m.probs) ?? io.mem.f32(padProbs(m.probs, io.np)));
    default:
      return block(ptr, w, sc, MASK_KIND[m.kind]);
  }
}

/** One object shape for every mask kind: kernels run once per stripe, so no dictionary-mode records. */
function block(ptr: number, weight: number, scale: number, maskKind: number, m0 = 0, m1 = 0, m2 = 0, m3 = 0) {
  return { ptr, weight, scale, maskKind, m0, m1, m2, m3, m4: 0, m5: 0 };
}

function padProbs(p: Float32Array, np: number): Float32Array {
  if (p.length >= np) return p;
  const out = new Float32Array(np);
  out.set(p);
  return out;
}

/** DELLA masks replaced by their per-element keep probabilities (undefined: none to replace). */
const della = (masks: MaskSpec[], inputs: SliceInputs): MaskSpec[] | undefined =>
  masks.some((m) => m.kind === 'della')
    ? masks.map((m, k) => (m.kind === 'della' ? { kind: 'probs', key: m.key, probs: inputs.dellaProbs(k, m) } : m))
    : undefined;

export const MERGE_KERNELS: { readonly [K in MergeSpec['kernel']]: MergeKernel<Merge<K>> } = {
  linear: {
    reference: ref.linear,
    wasm: {
      name: 'linear',
      args: (s, io) => ({
        head: {
          n: io.np,
          nIn: io.stored.length,
          outKind: io.outKind,
          out: io.out,
          normalize: s.normalize ? 1 : 0,
          div: Math.fround(s.div),
          scratch: io.scratch,
        },
        each: io.stored.map((ptr, k) => ({ ptr, weight: Math.fround(s.weights[k]!) })),
      }),
    },
  },
  tvmerge: {
    reference: ref.tvmerge,
    wasm: {
      name: 'tvmerge',
      countsInputs: true,
      args: (s, io) => ({
        head: {
          n: io.np,
          nm: io.stored.length - 1,
          outKind: io.outKind,
          out: io.out,
          base: io.stored[0]!,
          elemStart: io.elemStart,
          consensus: s.consensus === 'ties' ? 1 : 0,
          normalize: s.normalize ? 1 : 0,
          div: Math.fround(s.div),
          lambda: Math.fround(s.lambda),
          scratch: io.scratch,
        },
        each: s.models.map((m, k) => modelBlock(io, io.stored[k + 1]!, m.weight, m.scale, m.mask)),
      }),
    },
    resolve(s, inputs) {
      const masks = della(
        s.models.map((m) => m.mask),
        inputs,
      );
      return masks && { ...s, models: s.models.map((m, k) => ({ ...m, mask: masks[k]! })) };
    },
  },
  stock: {
    reference: ref.stock,
    wasm: {
      name: 'stock',
      args: (s, io) => ({
        head: {
          n: io.np,
          nm: io.stored.length - 1,
          outKind: io.outKind,
          out: io.out,
          base: io.stored[0]!,
          t: Math.fround(s.t),
          tPtr: s.rowT ? io.mem.f32(s.rowT) : 0,
          rowLen: s.rowLen,
          scratch: io.scratch,
        },
        each: io.stored.slice(1).map((ptr) => ({ ptr })),
      }),
    },
  },
  stockRows: {
    reference: () => {
      throw new Error('stockRows is resolved into stock before it runs');
    },
    resolve: (s, inputs, n) => ({ kernel: 'stock', t: 0, rowLen: s.rowLen, rowT: rowStockT(inputs.values(), n, s.rowLen) }),
  },
  sce: { reference: (s, x, n, _e, r) => ts.sce(s, x, n, r) },
  ram: { reference: (s, x, n, _e, r) => ts.ram(s, x, n, r) },
  nearswap: { reference: (s, x, n, _e, r) => ts.nearswap(s, x, n, r) },
  fusion: { reference: (s, x, n, _e, r) => ts.fusion(s, x, n, r) },
  nuslerp: { reference: (s, x, n, _e, r) => ts.nuslerp(s, x, n, r) },
};

/**
 * Histogram kernels: one u32 region per entry (histHi: 4 lane copies, summed by the kernel), `more`
 * regions of `bins` zeroed too. Returns the counts of each region (`hist`, then `more`): copies, or
 * added into `into` when given.
 */
function histRun(
  io: SliceIo,
  call: (a: KernelArgs) => void,
  bins: number,
  copies: number,
  each: (hist: number, k: number) => Record<string, number>,
  count: number,
  more: number[] = [],
  into?: Uint32Array[],
): Uint32Array[] {
  const hist = Array.from({ length: count }, () => io.mem.alloc(bins * 4 * copies));
  io.mem.ensure();
  for (const h of hist) new Uint32Array(io.mem.buffer, h, bins * copies).fill(0);
  for (const h of more) new Uint32Array(io.mem.buffer, h, bins).fill(0);
  call({ head: { n: io.n, nm: count, base: io.stored[0]! }, each: hist.map((h, k) => each(h, k)) });
  const counts = [...hist, ...more].map((h) => new Uint32Array(io.mem.buffer, h, bins));
  if (!into) return counts.map((c) => c.slice());
  addCounts(into, counts);
  return into;
}

/** Adds histograms `more` into `into`, region by region. */
export function addCounts(into: Uint32Array[], more: Uint32Array[]): void {
  into.forEach((h, k) => {
    const m = more[k]!;
    for (let i = 0; i < h.length; i++) h[i] = h[i]! + m[i]!;
  });
}

export const STATS_KERNELS: { readonly [K in StatsSpec['kernel']]: StatsKernel<Stats<K>> } = {
  histHi: {
    reference: refStats.histHi,
    wasm: {
      name: 'hist_hi',
      run: (_s, io, call, into) => {
        const nm = io.stored.length - 1;
        const impure = Array.from({ length: nm }, () => io.mem.alloc(HIST_HI_BINS * 4));
        const acc = into?.kernel === 'histHi' ? [...into.hist, ...into.impure] : undefined;
        const counts = histRun(io, call, HIST_HI_BINS, 4, (hist, k) => ({ ptr: io.stored[k + 1]!, hist, impure: impure[k]! }), nm, impure, acc);
        return into && acc ? into : { kernel: 'histHi', hist: counts.slice(0, nm), impure: counts.slice(nm) };
      },
    },
  },
  histLo: {
    reference: refStats.histLo,
    wasm: {
      name: 'hist_lo',
      run: (s, io, call, into) => {
        const acc = into?.kernel === 'histLo' ? into.hist : undefined;
        const entry = (hist: number, k: number) => ({ ptr: io.stored[s.entries[k]!.model + 1]!, bin: s.entries[k]!.bin, hist });
        const hist = histRun(io, call, HIST_LO_BINS, 1, entry, s.entries.length, [], acc);
        return into && acc ? into : { kernel: 'histLo', hist };
      },
    },
  },
  l1: {
    reference: refStats.l1,
    wasm: {
      name: 'l1',
      run: (s, io, call) => {
        const nm = io.stored.length - 1,
          nb = blockCount(io.np);
        const out = io.mem.alloc(nb * nm * 16);
        const lanes = io.mem.alloc(nm * 64);
        const each = s.masks.map((m, k) => modelBlock(io, io.stored[k + 1]!, 0, 0, m));
        io.mem.ensure();
        call({ head: { n: io.np, nm, base: io.stored[0]!, elemStart: io.elemStart, out, lanes }, each });
        const all = new Float64Array(io.mem.buffer, out, nb * nm * 2);
        return { kernel: 'l1', blocks: Array.from({ length: nb }, (_, b) => all.slice(b * nm * 2, (b + 1) * nm * 2)) };
      },
    },
    resolve(s, inputs) {
      const masks = della(s.masks, inputs);
      return masks && { kernel: 'l1', masks };
    },
  },
  gram: {
    reference: refStats.gram,
    wasm: {
      name: 'gram',
      run: (s, io, call) => {
        const vecs = s.mode === 'raw' ? io.stored : io.stored.slice(1);
        const nq = (vecs.length * (vecs.length + 1)) / 2,
          nb = blockCount(io.np);
        const out = io.mem.alloc(nb * nq * 8);
        const scratch = io.mem.alloc(vecs.length * CHUNK * 4);
        const lanes = io.mem.alloc(nq * 32);
        io.mem.ensure();
        call({
          head: { n: io.np, nv: vecs.length, mode: s.mode === 'raw' ? 0 : 1, base: io.stored[0]!, out, scratch, lanes },
          each: vecs.map((ptr) => ({ ptr })),
        });
        const all = new Float64Array(io.mem.buffer, out, nb * nq);
        return { kernel: 'gram', blocks: Array.from({ length: nb }, (_, b) => all.slice(b * nq, (b + 1) * nq)) };
      },
    },
  },
  derivedHi: { reference: (s, x, n, _e, r) => ts.derivedHi(s, x, n, r) },
  derivedLo: { reference: (s, x, n, _e, r) => ts.derivedLo(s, x, n, r) },
  sumSquares: { reference: (s, x, n, _e, r) => ts.sumSquares(s, x, n, r) },
  ramCounts: { reference: (s, x, n, _e, r) => ts.ramCountsStats(s, x, n, r) },
  signs: { reference: signs },
};

/** What a resolve step may read of a slice: its values, and DELLA's keep probabilities of model k. */
export interface SliceInputs {
  values(): Float64Array[];
  dellaProbs(k: number, mask: DellaMask): Float32Array;
}

/** A slice's inputs as decoded values (inputs[0] is the base), DELLA's probabilities computed in TypeScript. */
function referenceInputs(inputs: Float64Array[], n: number, r: Round): SliceInputs {
  return {
    values: () => inputs,
    dellaProbs: (k, m) => ts.dellaProbs(inputs[0]!, inputs[k + 1]!, n, m.rowLen, m.density, m.epsilon, r),
  };
}

/** The merge record of a spec, after its resolve steps. */
export function resolveMerge(spec: MergeSpec, inputs: SliceInputs, n: number, r: Round): MergeSpec {
  for (;;) {
    const next = (MERGE_KERNELS[spec.kernel] as MergeKernel<MergeSpec>).resolve?.(spec, inputs, n, r);
    if (!next) return spec;
    spec = next;
  }
}

export function resolveStats(spec: StatsSpec, inputs: SliceInputs, n: number, r: Round): StatsSpec {
  for (;;) {
    const next = (STATS_KERNELS[spec.kernel] as StatsKernel<StatsSpec>).resolve?.(spec, inputs, n, r);
    if (!next) return spec;
    spec = next;
  }
}

/** Runs a merge spec on one slice in TypeScript (the reference of every kernel). */
export function referenceMerge(spec: MergeSpec, inputs: Float64Array[], n: number, elemStart: number, r: Round): Float64Array {
  const s = resolveMerge(spec, referenceInputs(inputs, n, r), n, r);
  return (MERGE_KERNELS[s.kernel] as MergeKernel<MergeSpec>).reference(s, inputs, n, elemStart, r);
}

/** Runs a stats spec on one slice in TypeScript (the reference of every kernel). */
export function referenceStats(spec: StatsSpec, inputs: Float64Array[], n: number, elemStart: number, r: Round): StatsResult {
  const s = resolveStats(spec, referenceInputs(inputs, n, r), n, r);
  return (STATS_KERNELS[s.kernel] as StatsKernel<StatsSpec>).reference(s, inputs, n, elemStart, r);
}
