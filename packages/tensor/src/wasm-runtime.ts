// One WebAssembly kernel instance per thread. A slice is laid out in the instance's linear
// memory: the caller reads input bytes straight into the views returned by prepare(), the
// kernel runs, and the caller writes the output straight from the returned view.
import { decode, encode, roundTo } from './codec.js';
import { type FloatDtype, dtypeCode, itemSize } from './dtype.js';
import { KERNELS_WASM_BASE64 } from './generated/kernels-wasm.js';
import type { InputRounding, MaskSpec, MergeSpec, StatsResult, StatsSpec } from './kernel-spec.js';
import { CHUNK, HIST_HI_BINS, HIST_LO_BINS, blockCount, padded } from './layout.js';
import { F32, F64, type Round } from './reference/precision.js';
import { TS_MERGES, TS_STATS, resolveMasks, tsMerge, tsStats } from './slice-kernels/index.js';
import { rowStockT } from './gram.js';
import { referenceMerge } from './reference/merge.js';
import { referenceStats } from './reference/stats.js';

type Kernel = (args: number) => number;
// The part of the WebAssembly JS API used here (TypeScript declares it only in the DOM library).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
interface Exports {
  memory: WasmMemory;
  [name: string]: Kernel | WasmMemory;
}

const ARGS = 65536;
const ARGS_BYTES = 65536;
const ALIGN = 64;
const MODEL_SLOTS = 10;

let compiled: object | undefined;
function module(): object {
  if (!compiled) compiled = new WebAssembly.Module(Uint8Array.from(atob(KERNELS_WASM_BASE64), (c) => c.charCodeAt(0)));
  return compiled;
}

export interface SliceLayout {
  /** number of elements of the slice */
  n: number;
  /** dtype of every input as stored in its checkpoint, in kernel input order */
  inputDtypes: FloatDtype[];
  /** the recipe's dtype: inputs are rounded to it before any arithmetic */
  rounding: InputRounding;
  /** output dtype (merge) — absent for stats */
  outDtype?: FloatDtype;
}

/** Result of a merge kernel on one slice. */
export interface MergeOutput {
  /** view of the encoded output bytes inside the kernel memory (valid until the next prepare) */
  bytes: Uint8Array;
  nonFinite: number;
  /** slice-relative index of the first NaN/Inf output, or -1 */
  firstNonFinite: number;
  /** NaN/Inf entries of the task vectors (which a mask or sign election could hide) */
  inputNonFinite: number;
  /** slice-relative index of the first of them, or -1 */
  firstInputNonFinite: number;
}

const align = (x: number) => Math.ceil(x / ALIGN) * ALIGN;
const MASK_KIND: Record<Exclude<MaskSpec['kind'], 'della'>, number> = { none: 0, topk: 1, window: 2, bernoulli: 3, probs: 4, zero: 5 };

export class KernelRuntime {
  private readonly ex: Exports;
  private layout: SliceLayout | undefined;
  private storage: 'BF16' | 'F32' | 'F64' = 'F32';
  private raw: number[] = [];
  private stored: number[] = [];
  /** end of the prepared inputs: each kernel call allocates its regions from here */
  private inputsEnd = 0;
  private free = 0;

  constructor() {
    this.ex = new WebAssembly.Instance(module(), {
      env: {
        abort: () => {
          throw new Error('kernel abort');
        },
      },
    }).exports as unknown as Exports;
  }

  /** Bytes of kernel memory currently reserved (grows to the largest slice seen). */
  get memoryBytes(): number {
    return this.ex.memory.buffer.byteLength;
  }

  /** Lays out a slice and returns one view per input to fill with its raw little-endian bytes. */
  prepare(layout: SliceLayout): Uint8Array[] {
    this.layout = layout;
    const np = padded(layout.n);
    const r = layout.rounding;
    const allBf16 = layout.inputDtypes.every((d) => d === 'BF16');
    this.storage = r === 'F64' ? 'F64' : r === 'BF16' || (allBf16 && (r === undefined || r === 'F32')) ? 'BF16' : 'F32';
    let p = ARGS + ARGS_BYTES;
    this.raw = layout.inputDtypes.map((d) => {
      const at = p;
      p = align(p + np * itemSize(d));
      return at;
    });
    this.stored = layout.inputDtypes.map((d, i) => {
      if (this.storage === 'F64' || (d === this.storage && r !== 'F16')) return this.raw[i]!;
      const at = p;
      p = align(p + np * itemSize(this.storage as FloatDtype));
      return at;
    });
    this.inputsEnd = p;
    this.free = p;
    this.ensure(p);
    const buf = this.ex.memory.buffer;
    return layout.inputDtypes.map((d, i) => new Uint8Array(buf, this.raw[i]!, layout.n * itemSize(d)));
  }

  /** Runs a merge kernel on the prepared slice. `elemStart` is the slice's first element. */
  merge(spec: MergeSpec, elemStart: number): MergeOutput {
    const { n, outDtype } = this.current();
    this.free = this.inputsEnd;
    if (spec.kernel === 'stockRows') {
      return this.merge({ kernel: 'stock', t: 0, rowLen: spec.rowLen, rowT: rowStockT(this.kernelValues(), n, spec.rowLen) }, elemStart);
    }
    if (!outDtype) throw new Error('merge on a slice prepared without an output dtype');
    if (TS_MERGES.has(spec.kernel)) return this.mergeTs(spec, outDtype);
    if (spec.kernel === 'tvmerge' && spec.models.some((m) => m.mask.kind === 'della')) {
      const masks = resolveMasks(
        spec.models.map((m) => m.mask),
        this.kernelValues(),
        n,
        this.round(),
      );
      return this.merge({ ...spec, models: spec.models.map((m, k) => ({ ...m, mask: masks[k]! })) }, elemStart);
    }
    if (this.storage === 'F64') return this.mergeF64(spec, elemStart, outDtype);
    this.convertInputs();
    const np = padded(n);
    const nIn = this.stored.length;
    const scratch = this.alloc((nIn + 2) * CHUNK * 4);
    const out = this.alloc(np * itemSize(outDtype));
    const rowT = spec.kernel === 'stock' && spec.rowT ? this.alloc(spec.rowT.length * 4) : 0;
    this.ensure(this.free);
    if (spec.kernel === 'stock' && spec.rowT) new Float32Array(this.ex.memory.buffer, rowT, spec.rowT.length).set(spec.rowT);
    const a: number[] = [];
    let bad: number;
    let inputBad = 0;
    const suffix = this.storage === 'BF16' ? '_bf16' : '_f32';
    switch (spec.kernel) {
      case 'linear':
        a.push(np, nIn, dtypeCode(outDtype), out, spec.normalize ? 1 : 0, Math.fround(spec.div), scratch);
        for (let k = 0; k < nIn; k++) a.push(this.stored[k]!, Math.fround(spec.weights[k]!));
        bad = this.call('linear' + suffix, a);
        break;
      case 'tvmerge': {
        a.push(
          np,
          nIn - 1,
          dtypeCode(outDtype),
          out,
          this.stored[0]!,
          elemStart,
          spec.consensus === 'ties' ? 1 : 0,
          spec.normalize ? 1 : 0,
          Math.fround(spec.div),
          Math.fround(spec.lambda),
          scratch,
        );
        spec.models.forEach((m, k) => this.pushModel(a, this.stored[k + 1]!, m.weight, m.scale, m.mask));
        bad = this.call('tvmerge' + suffix, a);
        inputBad = new Float64Array(this.ex.memory.buffer, ARGS, 1)[0]!;
        break;
      }
      case 'stock':
        a.push(np, nIn - 1, dtypeCode(outDtype), out, this.stored[0]!, Math.fround(spec.t), rowT, spec.rowLen, scratch);
        for (let k = 1; k < nIn; k++) a.push(this.stored[k]!);
        bad = this.call('stock' + suffix, a);
        break;
      default:
        throw new Error(`merge kernel ${spec.kernel} has no WebAssembly implementation`);
    }
    const bytes = new Uint8Array(this.ex.memory.buffer, out, n * itemSize(outDtype));
    return {
      bytes,
      ...(bad > 0 ? scanNonFinite(bytes, outDtype) : { nonFinite: 0, firstNonFinite: -1 }),
      ...(inputBad > 0 ? this.scanInputs() : { inputNonFinite: 0, firstInputNonFinite: -1 }),
    };
  }

  /** Runs a stats kernel on the prepared slice and returns copies of its partial results. */
  stats(spec: StatsSpec, elemStart: number): StatsResult {
    const { n } = this.current();
    this.free = this.inputsEnd;
    if (TS_STATS.has(spec.kernel)) return tsStats(spec, this.kernelValues(), n, this.round());
    if (spec.kernel === 'l1' && spec.masks.some((m) => m.kind === 'della')) {
      return this.stats({ kernel: 'l1', masks: resolveMasks(spec.masks, this.kernelValues(), n, this.round()) }, elemStart);
    }
    if (this.storage === 'F64') {
      return referenceStats(spec, this.decodedInputs(), n, elemStart, F64);
    }
    this.convertInputs();
    const np = padded(n);
    const nm = this.stored.length - 1;
    const a: number[] = [];
    const suffix = this.storage === 'BF16' ? '_bf16' : '_f32';
    const mem = () => this.ex.memory.buffer;
    switch (spec.kernel) {
      case 'histHi':
      case 'histLo': {
        const bins = spec.kernel === 'histHi' ? HIST_HI_BINS : HIST_LO_BINS;
        const entries = spec.kernel === 'histHi' ? Array.from({ length: nm }, (_, model) => ({ model, bin: 0 })) : spec.entries;
        const copies = spec.kernel === 'histHi' ? 4 : 1; // one histogram per SIMD lane, summed by the kernel
        const hist = entries.map(() => this.alloc(bins * 4 * copies));
        this.ensure(this.free);
        for (const h of hist) new Uint32Array(mem(), h, bins * copies).fill(0);
        a.push(n, entries.length, this.stored[0]!);
        entries.forEach(({ model, bin }, k) => {
          if (spec.kernel === 'histHi') a.push(this.stored[model + 1]!, hist[k]!);
          else a.push(this.stored[model + 1]!, bin, hist[k]!);
        });
        this.call((spec.kernel === 'histHi' ? 'hist_hi' : 'hist_lo') + suffix, a);
        return { kernel: spec.kernel, hist: hist.map((h) => new Uint32Array(mem(), h, bins).slice()) };
      }
      case 'l1': {
        const nb = blockCount(np);
        const out = this.alloc(nb * nm * 16);
        const lanes = this.alloc(nm * 64);
        this.ensure(this.free);
        a.push(np, nm, this.stored[0]!, elemStart, out, lanes);
        spec.masks.forEach((m, k) => this.pushModel(a, this.stored[k + 1]!, 0, 0, m));
        this.call('l1' + suffix, a);
        const all = new Float64Array(mem(), out, nb * nm * 2);
        return { kernel: 'l1', blocks: Array.from({ length: nb }, (_, b) => all.slice(b * nm * 2, (b + 1) * nm * 2)) };
      }
      case 'gram': {
        const vecs = spec.mode === 'raw' ? this.stored : this.stored.slice(1);
        const nq = (vecs.length * (vecs.length + 1)) / 2;
        const nb = blockCount(np);
        const out = this.alloc(nb * nq * 8);
        const scratch = this.alloc(vecs.length * CHUNK * 4);
        const lanes = this.alloc(nq * 32);
        this.ensure(this.free);
        a.push(np, vecs.length, spec.mode === 'raw' ? 0 : 1, this.stored[0]!, out, scratch, lanes, ...vecs);
        this.call('gram' + suffix, a);
        const all = new Float64Array(mem(), out, nb * nq);
        return { kernel: 'gram', blocks: Array.from({ length: nb }, (_, b) => all.slice(b * nq, (b + 1) * nq)) };
      }
      default:
        throw new Error(`stats kernel ${spec.kernel} has no WebAssembly implementation`);
    }
  }

  private current(): SliceLayout {
    if (!this.layout) throw new Error('no slice prepared');
    return this.layout;
  }

  private pushModel(a: number[], ptr: number, weight: number, scale: number, m: MaskSpec): void {
    if (m.kind === 'della') throw new Error('della masks are resolved before the kernel runs');
    const slots = [ptr, Math.fround(weight), Math.fround(scale), MASK_KIND[m.kind], 0, 0, 0, 0, 0, 0];
    switch (m.kind) {
      case 'topk':
        slots[4] = m.thr;
        slots[5] = m.quota;
        break;
      case 'window':
        slots[4] = m.lo;
        slots[5] = m.dropLo;
        slots[6] = m.hi;
        slots[7] = m.keepHi;
        break;
      case 'bernoulli':
        slots[4] = m.key[0];
        slots[5] = m.key[1];
        slots[6] = Math.fround(m.p);
        break;
      case 'probs': {
        const at = this.alloc(padded(this.current().n) * 4);
        this.ensure(this.free);
        new Float32Array(this.ex.memory.buffer, at, m.probs.length).set(m.probs);
        slots[4] = m.key[0];
        slots[5] = m.key[1];
        slots[6] = at;
        break;
      }
    }
    if (slots.length !== MODEL_SLOTS) throw new Error('bad model slot count');
    a.push(...slots);
  }

  /** Zero-fills the padding of every input and converts inputs into the kernel storage. */
  private convertInputs(): void {
    const { n, inputDtypes, rounding } = this.current();
    const np = padded(n);
    const buf = this.ex.memory.buffer;
    inputDtypes.forEach((d, i) => {
      const size = itemSize(d);
      new Uint8Array(buf, this.raw[i]! + n * size, (np - n) * size).fill(0);
      if (this.stored[i] === this.raw[i]) return;
      const round = rounding === 'BF16' ? 0 : rounding === 'F16' ? 1 : -1;
      const a: number[] = [];
      a.push(np, dtypeCode(d), this.raw[i]!, round, this.storage === 'BF16' ? 0 : 2, this.stored[i]!);
      this.call('convert', a);
    });
  }

  /** The inputs as the kernels see them (converted, decoded), for the TypeScript slice kernels. */
  private kernelValues(): Float64Array[] {
    if (this.storage === 'F64') return this.decodedInputs();
    this.convertInputs();
    return this.storedValues();
  }

  private round(): Round {
    return this.storage === 'F64' ? F64 : F32;
  }

  private mergeTs(spec: MergeSpec, outDtype: FloatDtype): MergeOutput {
    const { n } = this.current();
    const enc = encode(tsMerge(spec, this.kernelValues(), n, this.round()), outDtype);
    const out = this.alloc(enc.byteLength);
    this.ensure(this.free);
    const bytes = new Uint8Array(this.ex.memory.buffer, out, enc.byteLength);
    bytes.set(enc);
    return { bytes, ...scanNonFinite(bytes, outDtype), inputNonFinite: 0, firstInputNonFinite: -1 };
  }

  /** The inputs as the kernels see them (after conversion), decoded. */
  private storedValues(): Float64Array[] {
    const { n } = this.current();
    const d = this.storage as FloatDtype;
    return this.stored.map((at) => decode(new Uint8Array(this.ex.memory.buffer, at, n * itemSize(d)), d));
  }

  private decodedInputs(): Float64Array[] {
    const { n, inputDtypes, rounding } = this.current();
    return inputDtypes.map((d, i) => {
      const x = decode(new Uint8Array(this.ex.memory.buffer, this.raw[i]!, n * itemSize(d)), d);
      if (rounding) for (let e = 0; e < n; e++) x[e] = roundTo(x[e]!, rounding);
      return x;
    });
  }

  private mergeF64(spec: MergeSpec, elemStart: number, outDtype: FloatDtype): MergeOutput {
    const { n } = this.current();
    const enc = encode(referenceMerge(spec, this.decodedInputs(), n, elemStart, F64), outDtype);
    const out = this.alloc(enc.byteLength);
    this.ensure(this.free);
    const bytes = new Uint8Array(this.ex.memory.buffer, out, enc.byteLength);
    bytes.set(enc);
    return { bytes, ...scanNonFinite(bytes, outDtype), ...(spec.kernel === 'tvmerge' ? this.scanInputs() : { inputNonFinite: 0, firstInputNonFinite: -1 }) };
  }

  /** Non-finite task-vector entries (x_i - b) of the prepared slice; inputs[0] is the base. */
  private scanInputs(): { inputNonFinite: number; firstInputNonFinite: number } {
    const values = this.storage === 'F64' ? this.decodedInputs() : this.storedValues();
    const { n } = this.current();
    let count = 0,
      first = -1;
    for (let e = 0; e < n; e++) {
      for (let k = 1; k < values.length; k++) {
        if (!Number.isFinite(values[k]![e]! - values[0]![e]!)) {
          if (first < 0) first = e;
          count++;
        }
      }
    }
    return { inputNonFinite: count, firstInputNonFinite: first };
  }

  private call(name: string, a: number[]): number {
    if (a.length * 8 > ARGS_BYTES) throw new Error(`kernel ${name}: too many arguments (${a.length})`);
    new Float64Array(this.ex.memory.buffer, ARGS, a.length).set(a);
    const fn = this.ex[name] as Kernel | undefined;
    if (!fn) throw new Error(`unknown kernel ${name}`);
    return (fn(ARGS) as number | undefined) ?? 0;
  }

  private alloc(bytes: number): number {
    const at = this.free;
    this.free = align(this.free + bytes);
    return at;
  }

  private ensure(bytes: number): void {
    const mem = this.ex.memory;
    if (bytes > mem.buffer.byteLength) mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / 65536));
  }
}

function scanNonFinite(bytes: Uint8Array, d: FloatDtype): { nonFinite: number; firstNonFinite: number } {
  const v = decode(bytes, d);
  let count = 0,
    first = -1;
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) {
      if (first < 0) first = i;
      count++;
    }
  }
  return { nonFinite: count, firstNonFinite: first };
}
