// Reference stats kernels: the same partial results as asm/stats.ts, bit for bit. `inputs[0]` is
// the base except for gram 'raw', which uses all inputs as vectors. Padding elements (up to a
// multiple of 8) count as zeros, as in the kernels.
import type { StatsResult, StatsSpec } from '../kernel-spec.js';
import { BLOCK, HIST_HI_BINS, HIST_LO_BINS, padded } from '../layout.js';
import { MaskState, absBits } from './mask.js';
import type { Round } from './precision.js';

type Spec<K extends StatsSpec['kernel']> = Extract<StatsSpec, { kernel: K }>;

/** Four f64 lanes (element j -> lane j % 4), flushed per block as (l0 + l1) + (l2 + l3). */
class Lanes {
  private l = [0, 0, 0, 0];
  add(j: number, v: number): void {
    this.l[j & 3] = this.l[j & 3]! + v;
  }
  flush(): number {
    const v = this.l[0]! + this.l[1]! + (this.l[2]! + this.l[3]!);
    this.l = [0, 0, 0, 0];
    return v;
  }
}

/** Histograms of the high 16 bits of |x_i − b|, one per model. */
export function histHi(_spec: Spec<'histHi'>, inputs: Float64Array[], n: number, _elemStart: number, r: Round): StatsResult {
  const base = inputs[0]!;
  const models = inputs.slice(1);
  const impure = models.map(() => new Uint32Array(HIST_HI_BINS));
  const hist = models.map((x, k) => {
    const h = new Uint32Array(HIST_HI_BINS);
    for (let e = 0; e < n; e++) {
      const a = absBits(r(x[e]! - base[e]!));
      h[a >>> 16]!++;
      if ((a & 0xffff) !== 0) impure[k]![a >>> 16]!++;
    }
    return h;
  });
  return { kernel: 'histHi', hist, impure };
}

/** Histograms of the low 16 bits of |x_i − b| inside one high bin, per entry. */
export function histLo(spec: Spec<'histLo'>, inputs: Float64Array[], n: number, _elemStart: number, r: Round): StatsResult {
  const base = inputs[0]!;
  const models = inputs.slice(1);
  const hist = spec.entries.map(({ model, bin }) => {
    const x = models[model]!;
    const h = new Uint32Array(HIST_LO_BINS);
    for (let e = 0; e < n; e++) {
      const a = absBits(r(x[e]! - base[e]!));
      if (a >>> 16 === bin) h[a & 0xffff]!++;
    }
    return h;
  });
  return { kernel: 'histLo', hist };
}

/** Per block and model: ‖d‖₁ and ‖mask(d)‖₁. */
export function l1(spec: Spec<'l1'>, inputs: Float64Array[], n: number, elemStart: number, r: Round): StatsResult {
  const base = inputs[0]!;
  const models = inputs.slice(1);
  const at = (x: Float64Array, e: number) => (e < n ? x[e]! : 0);
  const np = padded(n);
  const masks = spec.masks.map((m) => new MaskState(m));
  const lanes = models.map(() => [new Lanes(), new Lanes()] as const);
  const blocks: Float64Array[] = [];
  for (let e = 0; e < np; e++) {
    for (let k = 0; k < models.length; k++) {
      const d = r(at(models[k]!, e) - at(base, e));
      lanes[k]![0].add(e, Math.abs(d));
      lanes[k]![1].add(e, masks[k]!.keep(d, elemStart + e, e) ? Math.abs(d) : 0);
    }
    if ((e + 1) % BLOCK === 0 || e + 1 === np) {
      const b = new Float64Array(models.length * 2);
      lanes.forEach((l, k) => {
        b[2 * k] = l[0].flush();
        b[2 * k + 1] = l[1].flush();
      });
      blocks.push(b);
    }
  }
  return { kernel: 'l1', blocks };
}

/** Per block: the upper triangle of v_i · v_j. */
export function gram(spec: Spec<'gram'>, inputs: Float64Array[], n: number, _elemStart: number, r: Round): StatsResult {
  const base = inputs[0]!;
  const models = inputs.slice(1);
  const at = (x: Float64Array, e: number) => (e < n ? x[e]! : 0);
  const np = padded(n);
  const vecs = spec.mode === 'raw' ? inputs : models;
  const nq = (vecs.length * (vecs.length + 1)) / 2;
  const lanes = Array.from({ length: nq }, () => new Lanes());
  const v = new Float64Array(vecs.length);
  const blocks: Float64Array[] = [];
  for (let e = 0; e < np; e++) {
    for (let k = 0; k < vecs.length; k++) v[k] = spec.mode === 'raw' ? at(vecs[k]!, e) : r(at(vecs[k]!, e) - at(base, e));
    let q = 0;
    for (let a = 0; a < vecs.length; a++) for (let b = a; b < vecs.length; b++) lanes[q++]!.add(e, v[a]! * v[b]!);
    if ((e + 1) % BLOCK === 0 || e + 1 === np) blocks.push(Float64Array.from(lanes, (l) => l.flush()));
  }
  return { kernel: 'gram', blocks };
}
