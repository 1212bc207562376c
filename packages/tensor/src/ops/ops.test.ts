// Operators on small hand-checkable tensors: expected values are worked out by hand in the
// comments (dyadic numbers, so float32 holds them exactly).
import { describe, expect, it } from 'vitest';
import { runOperator } from './testing.js';
import { OperatorError } from './types.js';

const run = runOperator;

const both = (f: (backend: 'wasm' | 'reference') => void) => {
  f('wasm');
  f('reference');
};

describe('linear', () => {
  it('weighted mean with and without normalize, negative weights', () =>
    both((backend) => {
      // (1*1 + 3*3)/4 = 2.5; (1*2 + 3*-4)/4 = -2.5
      expect(
        run(
          'linear',
          [
            [1, 2],
            [3, -4],
          ],
          {},
          [{ weight: 1 }, { weight: 3 }],
          { backend },
        ),
      ).toEqual([2.5, -2.5]);
      expect(
        run(
          'linear',
          [
            [1, 2],
            [3, -4],
          ],
          { normalize: false },
          [{ weight: 1 }, { weight: 3 }],
          { backend },
        ),
      ).toEqual([10, -10]);
      // weights 2 and -1: (2*1 - 3)/1 = -1; (4 + 4)/1 = 8
      expect(
        run(
          'linear',
          [
            [1, 2],
            [3, -4],
          ],
          {},
          [{ weight: 2 }, { weight: -1 }],
          { backend },
        ),
      ).toEqual([-1, 8]);
    }));
  it('includes the base with its own weight when base_model is set', () => {
    // inputs [base, m]: (1*0 + 1*4)/2 = 2
    expect(run('linear', [[0], [4]], {}, [{ weight: 1 }, { weight: 1 }], { base: true })).toEqual([2]);
  });
});

describe('task_arithmetic', () => {
  const b = [1, 1, 0],
    x1 = [2, 0, 0.5],
    x2 = [1.5, 3, -0.5];
  it('base + lambda * sum of weighted task vectors', () =>
    both((backend) => {
      // d1 = [1, -1, 0.5], d2 = [0.5, 2, -0.5]; M = d1 + 0.5 d2 = [1.25, 0, 0.25]; b + 0.5 M
      expect(run('task_arithmetic', [b, x1, x2], { lambda: 0.5 }, [{}, { weight: 1 }, { weight: 0.5 }], { backend })).toEqual([1.625, 1, 0.125]);
    }));
  it('normalize divides by the weight sum; a near-zero sum divides by 1', () => {
    // weights 1 and 3: M = d1 + 3 d2 = [2.5, 5, -1]; / 4 = [0.625, 1.25, -0.25]
    expect(run('task_arithmetic', [b, x1, x2], { normalize: true }, [{}, { weight: 1 }, { weight: 3 }])).toEqual([1.625, 2.25, -0.25]);
    // weights 1 and -1: M = d1 - d2 = [0.5, -3, 1]; sum of weights 0 -> divisor 1
    expect(run('task_arithmetic', [b, x1, x2], { normalize: true }, [{}, { weight: 1 }, { weight: -1 }])).toEqual([1.5, -2, 1]);
  });
  it('all-zero task vectors give the base', () => {
    expect(run('task_arithmetic', [b, b, b], {}, [{}, { weight: 1 }, { weight: 1 }])).toEqual(b);
  });
});

describe('ties', () => {
  const b = [0, 0, 0, 0];
  // d1 = [3, -1, 2, 0] -> top 2: idx 0, 2            -> [3, 0, 2, 0]
  // d2 = [-2, -2, 1, 4] -> 4, then the tie |2| at idx 0 and 1 keeps idx 0 -> [-2, 0, 0, 4]
  // d3 = [1, 1, -1, -1] -> all tied: idx 0, 1        -> [1, 1, 0, 0]
  const x = [
    [3, -1, 2, 0],
    [-2, -2, 1, 4],
    [1, 1, -1, -1],
  ];
  it('top-k with ties by lower index, sign election, disjoint mean', () =>
    both((backend) => {
      // idx0: D = [3, -2, 1], sum 2 -> +, kept 3 and 1, mean 2; idx1: [0, 0, 1] -> 1; idx2: [2, 0, 0] -> 2; idx3: 4
      expect(run('ties', [b, ...x], {}, [{}, ...x.map(() => ({ weight: 1, density: 0.5 }))], { backend })).toEqual([2, 1, 2, 4]);
    }));
  it('negative weights, a zero divisor, normalize off and lambda', () =>
    both((backend) => {
      const w = [{}, { weight: 1, density: 0.5 }, { weight: 2, density: 0.5 }, { weight: -1, density: 0.5 }];
      // D1 = [3,0,2,0], D2 = [-4,0,0,8], D3 = [-1,-1,0,0]
      // idx0: sum -2 -> -, kept -4 (w 2) and -1 (w -1): M -5, divisor 1 -> -5
      // idx1: sum -1 -> -, kept -1 (w -1): divisor -1 -> 1;  idx2: 2 / 1;  idx3: 8 / 2 = 4
      expect(run('ties', [b, ...x], {}, w, { backend })).toEqual([-5, 1, 2, 4]);
      expect(run('ties', [b, ...x], { normalize: false }, w, { backend })).toEqual([-5, -1, 2, 8]);
      expect(run('ties', [b, ...x], { normalize: false, lambda: 0.5 }, w, { backend })).toEqual([-2.5, -0.5, 1, 4]);
      // weights 1 and -1 on d = 1 and -1: D = [1, 1], both kept, divisor 1 + -1 = 0 -> 1: M = 2
      expect(run('ties', [[0], [1], [-1]], {}, [{}, { weight: 1 }, { weight: -1 }], { backend })).toEqual([2]);
    }));
  it('density 1 keeps everything; zeros are never kept', () => {
    // idx0: [3, -2, 1] -> + : (3+1)/2 = 2; idx1: [-1,-2,1] sum -2 -> - : (-1-2)/2 = -1.5
    // idx2: [2, 1, -1] -> + : 1.5; idx3: [0, 4, -1] -> + : 4 (the zero is not kept)
    expect(run('ties', [b, ...x], {}, [{}, ...x.map(() => ({ weight: 1 }))])).toEqual([2, -1.5, 1.5, 4]);
  });
  it("rescale restores each pruned vector's L1 norm", () => {
    // d1 pruned [3,0,2,0]: |d1| = 6, kept 5 -> x1.2 = [3.6, 0, 2.4, 0]; one model: result = that
    const r = run('ties', [b, x[0]!], { rescale: true }, [{}, { weight: 1, density: 0.5 }]);
    expect(r.map((v) => Number(v.toFixed(5)))).toEqual([3.6, 0, 2.4, 0]);
  });
  it('density near 0 that keeps nothing is an error naming the tensor', () => {
    expect(() => run('ties', [b, x[0]!], {}, [{}, { weight: 1, density: 0.1 }])).toThrow(OperatorError);
    expect(() => run('ties', [b, x[0]!], {}, [{}, { weight: 1, density: 0.1 }])).toThrow(/tensor w: density 0.1 keeps no element/);
  });
});

describe('slerp', () => {
  it('orthogonal vectors at t = 0.5, colinear vectors, t = 0', () =>
    both((backend) => {
      const r = run(
        'slerp',
        [
          [1, 0],
          [0, 1],
        ],
        { t: 0.5 },
        [],
        { backend },
      );
      expect(r[0]).toBeCloseTo(Math.SQRT1_2, 6);
      expect(r[1]).toBeCloseTo(Math.SQRT1_2, 6);
      // colinear: lerp (1 - 0.25) * [1, 2] + 0.25 * [2, 4] = [1.25, 2.5]
      expect(
        run(
          'slerp',
          [
            [1, 2],
            [2, 4],
          ],
          { t: 0.25 },
          [],
          { backend },
        ),
      ).toEqual([1.25, 2.5]);
      expect(
        run(
          'slerp',
          [
            [1, -3],
            [5, 7],
          ],
          { t: 0 },
          [],
          { backend },
        ),
      ).toEqual([1, -3]);
    }));
});

describe('model_stock', () => {
  it('orthogonal offsets give the base, identical offsets the average', () =>
    both((backend) => {
      expect(
        run(
          'model_stock',
          [
            [0, 0],
            [1, 0],
            [0, 1],
          ],
          {},
          [],
          { backend },
        ),
      ).toEqual([0, 0]);
      expect(
        run(
          'model_stock',
          [
            [0, 0],
            [1, 1],
            [1, 1],
          ],
          {},
          [],
          { backend },
        ),
      ).toEqual([1, 1]);
      // cos = 1/sqrt2, t = 2c / (1 + c) = 0.828427; avg = [1, 0.5]
      const r = run(
        'model_stock',
        [
          [0, 0],
          [1, 0],
          [1, 1],
        ],
        {},
        [],
        { backend },
      );
      expect(r[0]).toBeCloseTo(0.828427, 5);
      expect(r[1]).toBeCloseTo(0.414214, 5);
    }));
  it('filter_wise computes one factor per row', () =>
    both((backend) => {
      // row 0 offsets orthogonal -> base row; row 1 offsets identical -> average row
      expect(
        run(
          'model_stock',
          [
            [0, 0, 0, 0],
            [1, 0, 2, 2],
            [0, 1, 2, 2],
          ],
          { filter_wise: true },
          [],
          { backend, shape: [2, 2] },
        ),
      ).toEqual([0, 0, 2, 2]);
    }));
});
