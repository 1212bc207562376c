// Functional signals against hand-computed values and their invariances.
import type { ProbeRow } from '@tessera/model';
import { describe, expect, it } from 'vitest';
import { cosine, functionalSignals, kl, linearCka } from './functional.js';

describe('functional signals', () => {
  it('KL divergence, cosine and linear CKA equal hand-computed values', () => {
    expect(kl([0.5, 0.5], [0.5, 0.5])).toBe(0);
    expect(kl([0.75, 0.25], [0.5, 0.5])).toBeCloseTo(0.75 * Math.log(1.5) + 0.25 * Math.log(0.5), 12);
    expect(cosine([1, 0], [1, 1])).toBeCloseTo(Math.SQRT1_2, 12);
    const x = [
      [1, 2],
      [3, 1],
      [0, 4],
      [2, 2],
    ];
    expect(linearCka(x, x)).toBeCloseTo(1, 12);
    // invariant to an orthogonal transform and an isotropic scaling of one side
    const c = Math.cos(0.7),
      s = Math.sin(0.7);
    const rotated = x.map(([a, b]) => [3 * (c * a! - s * b!), 3 * (s * a! + c * b!)]);
    expect(linearCka(x, rotated)).toBeCloseTo(1, 12);
    // centred columns x1 = [0, 2, -1, 1]·... : CKA of x against its first column alone, by hand
    const col = x.map((r) => [r[0]!]);
    const cx = x.map((r) => [r[0]! - 1.5, r[1]! - 2.25]),
      cc = col.map((r) => [r[0]! - 1.5]);
    const g = (m: number[][]) => m.map((r) => m.map((q) => r.reduce((a, v, j) => a + v * q[j]!, 0)));
    const [kx, kc] = [g(cx), g(cc)];
    let xy = 0,
      xx = 0,
      yy = 0;
    kx.forEach((r, i) =>
      r.forEach((v, j) => {
        xy += v * kc[i]![j]!;
        xx += v * v;
        yy += kc[i]![j]! ** 2;
      }),
    );
    expect(linearCka(x, col)).toBeCloseTo(xy / Math.sqrt(xx * yy), 12);
  });

  it('a model against itself: no divergence, full agreement, cosine and CKA 1', () => {
    const rows: ProbeRow[] = [];
    for (let q = 0; q < 3; q++) {
      rows.push({ kind: 'next_token', sequence: q, layer: -1, head: -1, values: [0.1 + q / 10, 0.9 - q / 10] });
      rows.push({ kind: 'hidden', sequence: q, layer: 0, head: -1, values: [q, 1, 2 - q] });
      rows.push({ kind: 'attention', sequence: q, layer: 0, head: 1, values: [0.2, 0.8] });
    }
    const f = functionalSignals(rows, rows);
    expect([f.klAB.mean, f.klBA.p90, f.top1Agreement]).toEqual([0, 0, 1]);
    expect(f.hiddenCos[0]).toBeCloseTo(1, 12);
    expect(f.cka[0]).toBeCloseTo(1, 12);
    expect(f.attentionCos[0]![0]).toBeCloseTo(1, 12);
  });
});
