// One WebAssembly kernel instance per thread. A slice is laid out in the instance's linear
// memory: the caller reads input bytes straight into the views returned by prepare(), the
// kernel runs, and the caller writes the output straight from the returned view. Which code
// runs a spec (a WebAssembly kernel, or TypeScript) is the kernel's record (kernels.ts).
import { decode, encode, roundTo } from './codec.js';
import { type FloatDtype, dtypeCode, itemSize } from './dtype.js';
import type { DellaMask, InputRounding, MaskSpec, MergeSpec, StatsResult, StatsSpec } from './kernel-spec.js';
import { MASK_SLOTS } from './generated/kernel-slots.js';
import {
  MERGE_KERNELS,
  type MergeKernel,
  STATS_KERNELS,
  type SliceInputs,
  type SliceIo,
  type StatsKernel,
  referenceMerge,
  referenceStats,
  resolveMerge,
  resolveStats,
} from './kernels.js';
import { type BlockScales, applyBlockScales } from './block-scales.js';
import { CHUNK, padded } from './layout.js';
import { F32, F64, type Round } from './reference/precision.js';
import { DATA_START, KernelMemory, align } from './wasm-memory.js';

/** Counters of the DELLA kernel's radix sort: four digits of 8 bits. */
const DELLA_DIGITS = 256;

export interface SliceLayout {
  /** number of elements of the slice */
  n: number;
  /** dtype of every input as stored in its checkpoint, in kernel input order */
  inputDtypes: FloatDtype[];
  /** the recipe's dtype: inputs are rounded to it before any arithmetic */
  rounding: InputRounding;
  /** output dtype (merge) — absent for stats */
  outDtype?: FloatDtype;
  /** per input, the block scales its stored numbers are multiplied by (scaled FP8 weights) */
  scales?: (BlockScales | undefined)[];
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

export class KernelRuntime {
  private readonly mem = new KernelMemory();
  private layout: SliceLayout | undefined;
  private storage: 'BF16' | 'F32' | 'F64' = 'F32';
  private raw: number[] = [];
  private stored: number[] = [];
  /** addresses of the DELLA probabilities computed in kernel memory for the current call */
  private readonly probsAt = new Map<Float32Array, number>();
  private readonly probsLookup = (p: Float32Array) => this.probsAt.get(p);
  /** the prepared slice for resolve steps: DELLA's probabilities come from the WebAssembly kernel */
  private readonly sliceInputs: SliceInputs = { values: () => this.kernelValues(), dellaProbs: (k, m) => this.dellaProbs(k, m) };
  /** end of the prepared inputs: each kernel call allocates its regions from here */
  private inputsEnd = 0;
  /** the current call's inputs are in kernel storage (they are converted once per call) */
  private converted = false;

  /** Bytes of kernel memory currently reserved (grows to the largest slice seen). */
  get memoryBytes(): number {
    return this.mem.buffer.byteLength;
  }

  /** Lays out a slice and returns one view per input to fill with its raw little-endian bytes. */
  prepare(layout: SliceLayout): Uint8Array[] {
    this.layout = layout;
    const np = padded(layout.n);
    const r = layout.rounding;
    const allBf16 = layout.inputDtypes.every((d) => d === 'BF16');
    // scaled inputs are multiplied out in float32 storage (or float64)
    const scaled = layout.scales?.some((x) => x !== undefined) ?? false;
    this.storage = r === 'F64' ? 'F64' : scaled ? 'F32' : r === 'BF16' || (allBf16 && (r === undefined || r === 'F32')) ? 'BF16' : 'F32';
    let p = DATA_START;
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
    this.mem.free = p;
    this.mem.ensure(p);
    const buf = this.mem.buffer;
    return layout.inputDtypes.map((d, i) => new Uint8Array(buf, this.raw[i]!, layout.n * itemSize(d)));
  }

  /** Runs a merge kernel on the prepared slice. `elemStart` is the slice's first element. */
  merge(given: MergeSpec, elemStart: number): MergeOutput {
    const { n, outDtype } = this.current();
    this.startCall();
    if (!outDtype) throw new Error('merge on a slice prepared without an output dtype');
    if (this.storage === 'F64')
      return this.output(encode(referenceMerge(given, this.decodedInputs(), n, elemStart, F64), outDtype), outDtype, given.kernel === 'tvmerge');
    const spec = resolveMerge(given, this.sliceInputs, n, this.round());
    const record = MERGE_KERNELS[spec.kernel] as MergeKernel<MergeSpec>;
    if (!record.wasm) return this.output(encode(record.reference(spec, this.kernelValues(), n, elemStart, this.round()), outDtype), outDtype, false);
    this.convertInputs();
    const np = padded(n);
    const scratch = this.mem.alloc((this.stored.length + 3) * CHUNK * 4);
    const out = this.mem.alloc(np * itemSize(outDtype));
    this.mem.ensure();
    const io = { mem: this.mem, n, np, elemStart, stored: this.stored, probsAt: this.probsLookup, outKind: dtypeCode(outDtype), out, scratch };
    const bad = this.mem.call(`${record.wasm.name}${this.suffix()}`, record.wasm.name, record.wasm.args(spec, io));
    const inputBad = record.wasm.countsInputs ? this.mem.firstSlot() : 0;
    const bytes = new Uint8Array(this.mem.buffer, out, n * itemSize(outDtype));
    // the common case (all finite) builds one object: this runs once per stripe
    if (bad === 0 && inputBad === 0) return { bytes, nonFinite: 0, firstNonFinite: -1, inputNonFinite: 0, firstInputNonFinite: -1 };
    return {
      bytes,
      ...(bad > 0 ? scanNonFinite(bytes, outDtype) : { nonFinite: 0, firstNonFinite: -1 }),
      ...(inputBad > 0 ? this.scanInputs() : { inputNonFinite: 0, firstInputNonFinite: -1 }),
    };
  }

  /**
   * Runs a stats kernel on the prepared slice and returns copies of its partial results; with
   * `into` (the result of the slice's earlier stripes), a histogram kernel adds its counts there.
   */
  stats(given: StatsSpec, elemStart: number, into?: StatsResult): StatsResult {
    const { n } = this.current();
    this.startCall();
    if (this.storage === 'F64') return referenceStats(given, this.decodedInputs(), n, elemStart, F64);
    const spec = resolveStats(given, this.sliceInputs, n, this.round());
    const record = STATS_KERNELS[spec.kernel] as StatsKernel<StatsSpec>;
    if (!record.wasm) return record.reference(spec, this.kernelValues(), n, elemStart, this.round());
    this.convertInputs();
    const wasm = record.wasm;
    return wasm.run(spec, this.io(elemStart), (args) => this.mem.call(`${wasm.name}${this.suffix()}`, wasm.name, args), into);
  }

  /**
   * The spec the next stripe of the same slice runs after a WebAssembly merge or stats call on
   * this one: its masks' tie quotas as the call left them (quotas are consumed in element order).
   */
  continued<S extends MergeSpec | StatsSpec>(spec: S): S {
    const masks = spec.kernel === 'tvmerge' ? spec.models.map((m) => m.mask) : spec.kernel === 'l1' ? spec.masks : [];
    if (!masks.some((m) => m.kind === 'topk' || m.kind === 'window')) return spec;
    const slot = (k: number, kind: 'topk' | 'window', name: string) => this.mem.blockSlot(spec.kernel, k, `m${MASK_SLOTS[kind]!.indexOf(name)}`);
    const next = masks.map(
      (m, k): MaskSpec =>
        m.kind === 'topk'
          ? { ...m, quota: slot(k, 'topk', 'quota') }
          : m.kind === 'window'
            ? { ...m, dropLo: slot(k, 'window', 'dropLo'), keepHi: slot(k, 'window', 'keepHi') }
            : m,
    );
    if (spec.kernel === 'tvmerge') return { ...spec, models: spec.models.map((m, k) => ({ ...m, mask: next[k]! })) };
    return { ...spec, masks: next };
  }

  /**
   * DELLA's keep probabilities of model k over the prepared slice (whole rows): a view of kernel
   * memory, zero-padded to the kernels' length, that the call's kernel reads where it lies.
   */
  private dellaProbs(k: number, m: DellaMask): Float32Array {
    const { n } = this.current();
    const np = padded(n);
    this.convertInputs();
    const out = this.mem.alloc(np * 4);
    const mark = this.mem.free;
    const scratch = this.mem.alloc(5 * Math.min(m.rowLen, n) * 4 + 4 * DELLA_DIGITS * 4);
    this.mem.ensure();
    const head = { n, base: this.stored[0]!, ptr: this.stored[k + 1]!, rowLen: m.rowLen, lo: m.density - m.epsilon, span: 2 * m.epsilon, out, scratch };
    this.mem.call(`della${this.suffix()}`, 'della', { head, each: [] });
    this.mem.free = mark;
    const probs = new Float32Array(this.mem.buffer, out, np);
    probs.fill(0, n);
    this.probsAt.set(probs, out);
    return probs;
  }

  private io(elemStart: number): SliceIo {
    const { n } = this.current();
    return { mem: this.mem, n, np: padded(n), elemStart, stored: this.stored, probsAt: this.probsLookup };
  }

  private suffix(): string {
    return this.storage === 'BF16' ? '_bf16' : '_f32';
  }

  private current(): SliceLayout {
    if (!this.layout) throw new Error('no slice prepared');
    return this.layout;
  }

  /** A kernel call starts: its regions are allocated after the inputs, which it converts afresh. */
  private startCall(): void {
    this.mem.free = this.inputsEnd;
    this.probsAt.clear();
    this.converted = false;
  }

  /** Zero-fills the padding of every input and converts inputs into the kernel storage (once per call). */
  private convertInputs(): void {
    if (this.converted) return;
    this.converted = true;
    const { n, inputDtypes, rounding, scales } = this.current();
    const np = padded(n);
    inputDtypes.forEach((d, i) => {
      const size = itemSize(d);
      if (np > n) new Uint8Array(this.mem.buffer, this.raw[i]! + n * size, (np - n) * size).fill(0);
      if (this.stored[i] === this.raw[i]) return;
      // a scaled input (float32 storage) is widened as it is, multiplied by its blocks' scales, then rounded
      const scale = scales?.[i];
      const round = scale ? -1 : rounding === 'BF16' ? 0 : rounding === 'F16' ? 1 : -1;
      this.mem.call('convert', 'convert', {
        head: { n: np, srcKind: dtypeCode(d), src: this.raw[i]!, round, dstKind: this.storage === 'BF16' ? 0 : 2, dst: this.stored[i]! },
        each: [],
      });
      if (scale) {
        const out = new Float32Array(this.mem.buffer, this.stored[i]!, np);
        applyBlockScales(out, n, scale);
        if (rounding === 'BF16' || rounding === 'F16') for (let e = 0; e < n; e++) out[e] = roundTo(out[e]!, rounding);
      }
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

  /** Copies encoded output bytes into kernel memory (the caller writes from there). */
  private output(enc: Uint8Array, outDtype: FloatDtype, scanInputs: boolean): MergeOutput {
    const out = this.mem.alloc(enc.byteLength);
    this.mem.ensure();
    const bytes = new Uint8Array(this.mem.buffer, out, enc.byteLength);
    bytes.set(enc);
    return { bytes, ...scanNonFinite(bytes, outDtype), ...(scanInputs ? this.scanInputs() : { inputNonFinite: 0, firstInputNonFinite: -1 }) };
  }

  /** The inputs as the kernels see them (after conversion), decoded. */
  private storedValues(): Float64Array[] {
    const { n } = this.current();
    const d = this.storage as FloatDtype;
    return this.stored.map((at) => decode(new Uint8Array(this.mem.buffer, at, n * itemSize(d)), d));
  }

  private decodedInputs(): Float64Array[] {
    const { n, inputDtypes, rounding, scales } = this.current();
    return inputDtypes.map((d, i) => {
      const x = decode(new Uint8Array(this.mem.buffer, this.raw[i]!, n * itemSize(d)), d);
      const scale = scales?.[i];
      if (scale) applyBlockScales(x, n, scale);
      if (rounding) for (let e = 0; e < n; e++) x[e] = roundTo(x[e]!, rounding);
      return x;
    });
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
