// Functional signals of two models from their probe representations on the same prompts
// (tessera probe): how far their next-token distributions are apart (KL both ways and its
// quantiles), how often their top tokens agree, and how alike their layers' hidden states
// (cosine, linear CKA over the prompts) and attention (cosine, per head) are.
import { fileURLToPath } from 'node:url';
import type { ProbeRow } from '@tessera/model';

export interface FunctionalSignals {
  /** KL(a‖b) and KL(b‖a) of the next-token distributions over the prompts: mean, median, 10% and 90% quantiles */
  klAB: Quantiles;
  klBA: Quantiles;
  /** share of prompts whose most likely next token is the same */
  top1Agreement: number;
  /** per layer: mean over prompts of the cosine of the mean hidden states, and linear CKA across prompts */
  hiddenCos: number[];
  cka: number[];
  /** per layer and head: mean over prompts of the cosine of the last token's attention */
  attentionCos: number[][];
}

export interface Quantiles {
  mean: number;
  median: number;
  p10: number;
  p90: number;
}

/** KL(p‖q) in nats; q's zeros are floored so that the divergence stays finite. */
export function kl(p: readonly number[], q: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) if (p[i]! > 0) s += p[i]! * Math.log(p[i]! / Math.max(q[i]!, 1e-12));
  return s;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at),
    hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

function quantiles(v: readonly number[]): Quantiles {
  const s = [...v].sort((x, y) => x - y);
  return { mean: s.reduce((a, b) => a + b, 0) / Math.max(s.length, 1), median: quantile(s, 0.5), p10: quantile(s, 0.1), p90: quantile(s, 0.9) };
}

export function cosine(x: readonly number[], y: readonly number[]): number {
  let xy = 0,
    xx = 0,
    yy = 0;
  for (let i = 0; i < x.length; i++) {
    xy += x[i]! * y[i]!;
    xx += x[i]! * x[i]!;
    yy += y[i]! * y[i]!;
  }
  return xx === 0 || yy === 0 ? Number.NaN : xy / Math.sqrt(xx * yy);
}

/**
 * Linear CKA of two representations of the same n prompts (rows): ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F)
 * after centring each column, computed through the n × n Gram matrices.
 */
export function linearCka(x: readonly (readonly number[])[], y: readonly (readonly number[])[]): number {
  const centre = (m: readonly (readonly number[])[]) => {
    const mean = m[0]!.map((_, j) => m.reduce((s, r) => s + r[j]!, 0) / m.length);
    return m.map((r) => r.map((v, j) => v - mean[j]!));
  };
  const gram = (m: number[][]) => m.map((r) => m.map((q) => r.reduce((s, v, j) => s + v * q[j]!, 0)));
  const kx = gram(centre(x)),
    ky = gram(centre(y));
  let xy = 0,
    xx = 0,
    yy = 0;
  for (let i = 0; i < kx.length; i++) {
    for (let j = 0; j < kx.length; j++) {
      xy += kx[i]![j]! * ky[i]![j]!;
      xx += kx[i]![j]! * kx[i]![j]!;
      yy += ky[i]![j]! * ky[i]![j]!;
    }
  }
  return xx === 0 || yy === 0 ? Number.NaN : xy / Math.sqrt(xx * yy);
}

/** The signals of two models' probe rows (the same prompts, in the same order). */
export function functionalSignals(a: readonly ProbeRow[], b: readonly ProbeRow[]): FunctionalSignals {
  const index = (rows: readonly ProbeRow[]) => new Map(rows.map((r) => [`${r.kind}/${r.sequence}/${r.layer}/${r.head}`, r.values]));
  const ia = index(a),
    ib = index(b);
  const both = (kind: ProbeRow['kind']) => a.filter((r) => r.kind === kind && ib.has(`${r.kind}/${r.sequence}/${r.layer}/${r.head}`));
  const next = both('next_token');
  const other = (r: ProbeRow) => ib.get(`${r.kind}/${r.sequence}/${r.layer}/${r.head}`)!;
  const argmax = (v: readonly number[]) => v.reduce((best, x, i) => (x > v[best]! ? i : best), 0);
  const layers = [...new Set(both('hidden').map((r) => r.layer))].sort((x, y) => x - y);
  const hiddenCos = layers.map((l) => {
    const rows = both('hidden').filter((r) => r.layer === l);
    return rows.reduce((s, r) => s + cosine(r.values, other(r)), 0) / rows.length;
  });
  const cka = layers.map((l) => {
    const rows = both('hidden')
      .filter((r) => r.layer === l)
      .sort((x, y) => x.sequence - y.sequence);
    return linearCka(
      rows.map((r) => r.values),
      rows.map(other),
    );
  });
  const attention = both('attention');
  const attLayers = [...new Set(attention.map((r) => r.layer))].sort((x, y) => x - y);
  const attentionCos = attLayers.map((l) => {
    const heads = [...new Set(attention.filter((r) => r.layer === l).map((r) => r.head))].sort((x, y) => x - y);
    return heads.map((h) => {
      const rows = attention.filter((r) => r.layer === l && r.head === h);
      return rows.reduce((s, r) => s + cosine(r.values, other(r)), 0) / rows.length;
    });
  });
  if (ia.size === 0 || next.length === 0) throw new Error('the probe representations share no prompt');
  return {
    klAB: quantiles(next.map((r) => kl(r.values, other(r)))),
    klBA: quantiles(next.map((r) => kl(other(r), r.values))),
    top1Agreement: next.filter((r) => argmax(r.values) === argmax(other(r))).length / next.length,
    hiddenCos,
    cka,
    attentionCos,
  };
}

/** Generic prompts shipped with Tessera (data/probes.jsonl), for functional signals without a probe set of one's own. */
export const DEFAULT_PROBES = fileURLToPath(new URL('../../../data/probes.jsonl', import.meta.url));

/** Probe representations of every model (engine stage tasks over chains), then every pair's signals. */
export async function probeSignals(
  models: readonly string[],
  probes: string,
  opts: { executor: import('@tessera/engine').Executor; workDir: string; signal?: AbortSignal },
): Promise<{ a: number; b: number; signals: FunctionalSignals }[]> {
  const { calibrationSequences, collectProbes, scopedExecutor } = await import('@tessera/engine');
  const reps: ProbeRow[][] = [];
  for (const [i, m] of models.entries()) {
    const seqs = await calibrationSequences(m, probes);
    reps.push(
      await collectProbes(m, seqs, {
        executor: scopedExecutor(opts.executor, `probe-${i}-${Date.now().toString(36)}`),
        workDir: opts.workDir,
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
    );
  }
  const out: { a: number; b: number; signals: FunctionalSignals }[] = [];
  for (let a = 0; a < models.length; a++) for (let b = a + 1; b < models.length; b++) out.push({ a, b, signals: functionalSignals(reps[a]!, reps[b]!) });
  return out;
}
