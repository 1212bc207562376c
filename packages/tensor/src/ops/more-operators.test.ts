// The operators beyond the core set, on hand-checkable tensors (expected values in comments).
import { describe, expect, it } from 'vitest';
import { runOperator as run } from './testing.js';

const both = (f: (backend: 'wasm' | 'reference') => void) => {
  f('wasm');
  f('reference');
};
const close = (a: number[], b: number[], digits = 5) => expect(a.map((x) => Number(x.toFixed(digits)))).toEqual(b.map((x) => Number(x.toFixed(digits))));
const S = Math.SQRT1_2;

describe('breadcrumbs', () => {
  const z = new Array(10).fill(0);
  it('drops the smallest and the largest entries', () =>
    both((backend) => {
      // n 10, density 0.5, gamma 0.1: keep 5, top 1, bottom 4; ascending |d| ranks 4..8 kept: 5, 6, 7, 8, 9
      const d = [5, -1, 3, 10, 2, -7, 4, 9, 6, 8];
      expect(run('breadcrumbs', [z, d], {}, [{}, { weight: 1, density: 0.5, gamma: 0.1 }], { backend })).toEqual([5, 0, 0, 0, 0, -7, 0, 9, 6, 8]);
    }));
  it('breaks ties by element index at both ends', () =>
    both((backend) => {
      // ascending stable order: 1 (i0..3), 2 (i4..7), 3 (i8, i9): keep ranks 4..8 -> i4..i8
      const d = [1, 1, 1, 1, 2, 2, 2, 2, 3, 3];
      expect(run('breadcrumbs', [z, d], {}, [{}, { weight: 1, density: 0.5, gamma: 0.1 }], { backend })).toEqual([0, 0, 0, 0, 2, 2, 2, 2, 3, 0]);
      // one value everywhere: window inside the ties, drop the first 4 and the last 1
      expect(run('breadcrumbs', [z, new Array(10).fill(2)], {}, [{}, { weight: 1, density: 0.5, gamma: 0.1 }], { backend })).toEqual([
        0, 0, 0, 0, 2, 2, 2, 2, 2, 0,
      ]);
    }));
  it('keeps nothing when top comes out 0 (mergekit quirk), everything at density 1', () => {
    const d = [5, -1, 3, 10, 2, -7, 4, 9, 6, 8];
    expect(run('breadcrumbs', [z, d], {}, [{}, { weight: 1, density: 0.5, gamma: 0 }])).toEqual(z);
    expect(run('breadcrumbs', [z, d], {}, [{}, { weight: 1, density: 1, gamma: 0.1 }])).toEqual(d);
  });
  it('breadcrumbs_ties elects signs among the kept entries', () => {
    // m1 keeps i1..i2 of [1, -4, 3, 9]: (bottom 1, top 1) -> [0, -4, 3, 0]; m2 = [0, 4, -5, 9] -> [0, 4, -5, 0]
    // i1: -4 + 4 = 0 -> + : keep 4; i2: 3 - 5 = -2 -> - : keep -5
    const r = run(
      'breadcrumbs_ties',
      [
        [0, 0, 0, 0],
        [1, -4, 3, 9],
        [0.5, 4, -5, 9],
      ],
      {},
      [{}, { weight: 1, density: 0.5, gamma: 0.25 }, { weight: 1, density: 0.5, gamma: 0.25 }],
    );
    expect(r).toEqual([0, 4, -5, 0]);
  });
});

describe('della', () => {
  it('density 1 keeps the task vector, density near 0 with epsilon out of range is an error', () => {
    expect(
      run(
        'della',
        [
          [0, 0, 0],
          [1, 2, 3],
        ],
        {},
        [{}, { weight: 1, density: 1 }],
      ),
    ).toEqual([1, 2, 3]);
    expect(() =>
      run(
        'della',
        [
          [0, 0, 0],
          [1, 2, 3],
        ],
        {},
        [{}, { weight: 1, density: 0.1, epsilon: 0.15 }],
      ),
    ).toThrow(/density - epsilon/);
  });
});

describe('nuslerp', () => {
  it('flatten, without and with a base', () =>
    both((backend) => {
      close(
        run(
          'nuslerp',
          [
            [1, 0],
            [0, 1],
          ],
          {},
          [{ weight: 1 }, { weight: 1 }],
          { backend },
        ),
        [S, S],
      );
      // t = w2 / (w1 + w2) = 0.25 on orthogonal vectors: [cos(pi/8), sin(pi/8)]
      close(
        run(
          'nuslerp',
          [
            [1, 0],
            [0, 1],
          ],
          {},
          [{ weight: 3 }, { weight: 1 }],
          { backend },
        ),
        [Math.cos(Math.PI / 8), Math.sin(Math.PI / 8)],
      );
      close(
        run(
          'nuslerp',
          [
            [1, 1],
            [2, 1],
            [1, 2],
          ],
          {},
          [{}, { weight: 1 }, { weight: 1 }],
          { backend, base: true },
        ),
        [1 + S, 1 + S],
      );
    }));
  it('per row and per column', () =>
    both((backend) => {
      // rows: [1,0]/[0,1] orthogonal -> [S, S]; [2,0]/[4,0] colinear -> lerp [3, 0]
      close(
        run(
          'nuslerp',
          [
            [1, 0, 2, 0],
            [0, 1, 4, 0],
          ],
          { nuslerp_flatten: false },
          [{ weight: 1 }, { weight: 1 }],
          { backend, shape: [2, 2] },
        ),
        [S, S, 3, 0],
      );
      // columns: col0 [1,0] vs [0,1] -> [S, S]; col1 [2,0] vs [4,0] -> [3, 0]
      close(
        run(
          'nuslerp',
          [
            [1, 2, 0, 0],
            [0, 4, 1, 0],
          ],
          { nuslerp_flatten: false, nuslerp_row_wise: true },
          [{ weight: 1 }, { weight: 1 }],
          { backend, shape: [2, 2] },
        ),
        [S, 3, S, 0],
      );
    }));
});

describe('multislerp and karcher', () => {
  it('multislerp of orthogonal unit vectors is their normalised mean', () =>
    both((backend) => {
      close(
        run(
          'multislerp',
          [
            [1, 0],
            [0, 1],
          ],
          {},
          [{ weight: 1 }, { weight: 1 }],
          { backend },
        ),
        [S, S],
      );
      // three orthonormal vectors, equal weights: [1,1,1]/sqrt3
      const t = 1 / Math.sqrt(3);
      close(
        run(
          'multislerp',
          [
            [1, 0, 0],
            [0, 1, 0],
            [0, 0, 1],
          ],
          {},
          [{ weight: 1 }, { weight: 1 }, { weight: 1 }],
          { backend },
        ),
        [t, t, t],
      );
    }));
  it('karcher mean of orthogonal vectors, scaled by the mean norm', () =>
    both((backend) => {
      close(
        run(
          'karcher',
          [
            [2, 0],
            [0, 2],
          ],
          {},
          [],
          { backend },
        ),
        [Math.SQRT2, Math.SQRT2],
      );
      close(
        run(
          'karcher',
          [
            [3, 4],
            [6, 8],
          ],
          {},
          [],
          { backend },
        ),
        [4.5, 6],
      ); // colinear: the direction, mean norm 7.5
    }));
});

describe('sce', () => {
  const b = [0, 0, 0, 0],
    x1 = [1, -2, 3, 0],
    x2 = [1, 2, -1, 0];
  it('energy weights and sign agreement', () =>
    both((backend) => {
      // weights: mean(T1^2) = 3.5, mean(T2^2) = 1.5 -> 0.7, 0.3; i0: both + -> 1; i1: sum 0 -> +: 2; i2: +: 3; i3: 0
      expect(run('sce', [b, x1, x2], {}, [], { backend })).toEqual([1, 2, 3, 0]);
    }));
  it('keeps only the positions of largest variance (ties by index)', () =>
    both((backend) => {
      // variances [0, 4, 4, 0]: 2 non-zero, k = 1 -> i1; then weights 0.5/0.5 and sign + -> 2
      expect(run('sce', [b, x1, x2], { select_topk: 0.5 }, [], { backend })).toEqual([0, 2, 0, 0]);
    }));
});

describe('ram, ramplus_tl, nearswap, passthrough', () => {
  const b = [0, 0, 0, 0],
    x1 = [1, 1, 0, 1e-6],
    x2 = [0, 3, 0, 0];
  it('ram: unique entries added, shared ones averaged, tiny ones ignored', () =>
    both((backend) => {
      expect(run('ram', [b, x1, x2], {}, [], { backend })).toEqual([1, 2, 0, 0]);
    }));
  it('ramplus_tl scales unique entries by 1 + r * clip(shared / unique, 0, alpha)', () =>
    both((backend) => {
      // model 1: shared 1, unique 1 -> rho 1 -> 1 + 0.1 * 0.2 = 1.02
      close(run('ramplus_tl', [b, x1, x2], {}, [], { backend }), [1.02, 2, 0, 0]);
    }));
  it('nearswap', () =>
    both((backend) => {
      // t 1: w = 1 / |d| = [2 -> 1, 0.5, inf -> 1]
      expect(
        run(
          'nearswap',
          [
            [0, 0, 1],
            [0.5, 2, 1],
          ],
          { t: 1 },
          [],
          { backend },
        ),
      ).toEqual([0.5, 1, 1]);
    }));
  it('passthrough copies, with an optional scale', () => {
    expect(run('passthrough', [[1.5, -2]], {}, [{}])).toEqual([1.5, -2]);
    expect(run('passthrough', [[1.5, -2]], {}, [{ scale: 2 }])).toEqual([3, -4]);
  });
});

describe('arcee_fusion', () => {
  it('matches an independent float64 computation of importance, quantiles and threshold', () => {
    const rows = 16,
      cols = 32,
      n = rows * cols;
    let s = 7;
    const rnd = () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648 - 0.5;
    };
    const b = Array.from({ length: n }, rnd),
      x = b.map((v) => v + 0.3 * rnd() * (rnd() > 0.3 ? 1 : 8));
    const softmax = (v: number[]) => {
      const m = Math.max(...v);
      const e = v.map((y) => Math.exp(y - m));
      const z = e.reduce((a, c) => a + c, 0);
      return e.map((y) => y / z + 1e-8);
    };
    const imp: number[] = [];
    for (let r = 0; r < rows; r++) {
      const p = softmax(x.slice(r * cols, (r + 1) * cols)),
        q = softmax(b.slice(r * cols, (r + 1) * cols));
      const kl = p.reduce((acc, pj, j) => acc + pj * Math.log(pj / q[j]!), 0);
      for (let j = 0; j < cols; j++) imp.push(Math.abs(x[r * cols + j]! - b[r * cols + j]!) * kl);
    }
    const sorted = imp.slice().sort((a, c) => a - c);
    const qv = (q: number) => sorted[Math.floor(q * (n - 1))]!;
    const thr = qv(0.5) + 1.5 * (qv(0.75) - qv(0.25));
    const expected = b.map((v, e) => (imp[e]! >= thr ? x[e]! : v));
    const got = run('arcee_fusion', [Float64Array.from(b, Math.fround), Float64Array.from(x, Math.fround)], {}, [], { shape: [rows, cols] });
    const taken = got.filter((v, e) => v !== Math.fround(b[e]!)).length;
    expect(taken).toBeGreaterThan(0);
    expect(taken).toBeLessThan(n / 4);
    // float32 vs float64 can only disagree for importances within rounding of the threshold
    const disagree = got.filter((v, e) => (v !== Math.fround(b[e]!)) !== (expected[e] !== b[e])).length;
    expect(disagree).toBeLessThanOrEqual(1);
  });
});

describe('edge cases', () => {
  const b = [0.5, -1, 2];
  it('all-zero task vectors give the base', () =>
    both((backend) => {
      for (const op of ['ties', 'breadcrumbs_ties', 'dare_ties', 'sce', 'ram', 'della_linear']) {
        const r = run(op, [b, b, b], {}, [{}, { weight: 1, density: 0.7 }, { weight: 1, density: 0.7 }], { backend });
        expect(r, op).toEqual(b);
      }
    }));
  it('a single input is copied', () =>
    both((backend) => {
      expect(run('karcher', [b], {}, [], { backend })).toEqual(b);
      expect(run('multislerp', [b], {}, [{ weight: 1 }], { backend })).toEqual(b);
      expect(run('linear', [b], {}, [{ weight: 0.3 }], { backend })).toEqual(b);
    }));
});
