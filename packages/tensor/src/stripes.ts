// A slice run stripe by stripe: each stripe of every input is read into the kernel memory,
// merged (or counted) and written while it is still in the CPU's caches, and the kernel memory
// stays one stripe whatever the slice's size. The results equal one run over the whole slice
// byte for byte: masks' tie quotas carry over from stripe to stripe, the random masks key on the
// global element index, and statistics are combined in element order.
import type { MaskSpec, MergeSpec, StatsResult, StatsSpec } from './kernel-spec.js';
import { addCounts } from './kernels.js';
import { BLOCK } from './layout.js';
import type { KernelRuntime, SliceLayout } from './wasm-runtime.js';

/** Elements per merge stripe: 512 KiB of each bf16 input. */
export const MERGE_STRIPE = 1 << 18;
/** Elements per statistics stripe: one reduction block, so that no block straddles two stripes. */
export const STATS_STRIPE = BLOCK;

/** Fills `into` with the raw bytes of input `k` from element `elemOffset` of the slice on. */
export type StripeReader = (k: number, elemOffset: number, into: Uint8Array) => void;

/** What a striped merge found (slice-relative indices, -1 for none). */
export interface StripedMerge {
  nonFinite: number;
  firstNonFinite: number;
  inputNonFinite: number;
  firstInputNonFinite: number;
}

/** The longest stripe a spec may take (elements): whole DELLA rows and whole blocks can need more than the defaults. */
const MAX_STRIPE = 16 * BLOCK;

/**
 * The stripe (elements) in which a spec runs with the same result as over the whole slice, or
 * undefined when it needs the whole slice. DELLA ranks within rows, so its stripes are whole
 * rows (the slice starts on a row); statistics stripes are whole reduction blocks too.
 */
export function stripeOf(spec: MergeSpec | StatsSpec, layout: Omit<SliceLayout, 'n'>): number | undefined {
  if (layout.rounding === 'F64' || layout.scales?.some((x) => x !== undefined)) return undefined;
  switch (spec.kernel) {
    case 'linear':
      return MERGE_STRIPE;
    case 'histHi':
    case 'histLo':
    case 'gram':
      return STATS_STRIPE;
    case 'tvmerge':
      return maskedStripe(
        spec.models.map((m) => m.mask),
        MERGE_STRIPE,
        1,
      );
    case 'l1':
      return maskedStripe(spec.masks, STATS_STRIPE, BLOCK);
    case 'stock':
      return spec.rowT === undefined ? MERGE_STRIPE : undefined;
    default:
      return undefined;
  }
}

/** A stripe of about `stripe` elements that is whole units of `align` and whole DELLA rows. */
function maskedStripe(masks: MaskSpec[], stripe: number, align: number): number | undefined {
  // per-element probabilities are given for the whole slice
  if (masks.some((m) => m.kind === 'probs')) return undefined;
  const rows = new Set(masks.flatMap((m) => (m.kind === 'della' ? [m.rowLen] : [])));
  if (rows.size === 0) return stripe;
  if (rows.size > 1) return undefined;
  const row = [...rows][0]!;
  const unit = (row / gcd(row, align)) * align;
  if (unit > MAX_STRIPE) return undefined;
  return Math.max(unit, Math.floor(stripe / unit) * unit);
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Merges a slice of n elements stripe by stripe, handing each stripe's output bytes to `write`
 * (element offset in the slice). After the first non-finite stripe nothing more is written; the
 * rest is still counted, so that the counts are those of the whole slice.
 */
export function mergeStripes(
  rt: KernelRuntime,
  layout: SliceLayout,
  given: MergeSpec,
  elemStart: number,
  read: StripeReader,
  write: (elemOffset: number, bytes: Uint8Array) => void,
  stripe = MERGE_STRIPE,
): StripedMerge {
  const r: StripedMerge = { nonFinite: 0, firstNonFinite: -1, inputNonFinite: 0, firstInputNonFinite: -1 };
  let spec = given;
  for (let off = 0; off < layout.n; off += stripe) {
    readStripe(rt, layout, read, off, stripe);
    const s = rt.merge(spec, elemStart + off);
    spec = rt.continued(spec);
    if (s.nonFinite > 0 && r.firstNonFinite < 0) r.firstNonFinite = off + s.firstNonFinite;
    if (s.inputNonFinite > 0 && r.firstInputNonFinite < 0) r.firstInputNonFinite = off + s.firstInputNonFinite;
    r.nonFinite += s.nonFinite;
    r.inputNonFinite += s.inputNonFinite;
    if (r.nonFinite === 0 && r.inputNonFinite === 0) write(off, s.bytes);
  }
  return r;
}

/** Runs a stats kernel over a slice stripe by stripe and combines the partial results. */
export function statsStripes(
  rt: KernelRuntime,
  layout: SliceLayout,
  given: StatsSpec,
  elemStart: number,
  read: StripeReader,
  stripe = STATS_STRIPE,
): StatsResult {
  if (stripe % BLOCK !== 0) throw new Error(`a statistics stripe (${stripe} elements) must be whole blocks of ${BLOCK}`);
  let spec = given;
  let all: StatsResult | undefined;
  for (let off = 0; off < layout.n; off += stripe) {
    readStripe(rt, layout, read, off, stripe);
    // histogram kernels add into `all` and return it; other results are combined here
    const s = rt.stats(spec, elemStart + off, all);
    spec = rt.continued(spec);
    all = all && all !== s ? combine(all, s) : s;
  }
  if (!all) throw new Error('statistics of an empty slice');
  return all;
}

/** Lays out the stripe at element `off` in the kernel memory and reads every input into it. */
function readStripe(rt: KernelRuntime, layout: SliceLayout, read: StripeReader, off: number, stripe: number): void {
  rt.prepare({ ...layout, n: Math.min(stripe, layout.n - off) }).forEach((v, k) => read(k, off, v));
}

/** Partial results of consecutive stripes: histograms add up, per-block results follow each other. */
function combine(a: StatsResult, b: StatsResult): StatsResult {
  if (a.kernel === 'histHi' && b.kernel === 'histHi') {
    addCounts(a.hist, b.hist);
    addCounts(a.impure, b.impure);
    return a;
  }
  if (a.kernel === 'histLo' && b.kernel === 'histLo') {
    addCounts(a.hist, b.hist);
    return a;
  }
  if ((a.kernel === 'l1' || a.kernel === 'gram') && a.kernel === b.kernel) return { kernel: a.kernel, blocks: [...a.blocks, ...b.blocks] };
  throw new Error(`statistics ${a.kernel} cannot be combined stripe by stripe`);
}
