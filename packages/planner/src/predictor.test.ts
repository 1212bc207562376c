// The predictors against known functions, and their ONNX form against the TypeScript one.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fitGbt, predictGbt } from './gbt.js';
import { openPredictor, writePredictor } from './predictor-onnx.js';
import { fitRidge, predictRidge } from './ridge.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-predictor-'));

// deterministic pseudo-random inputs
function inputs(n: number, f: number): number[][] {
  let s = 12345;
  const r = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  return Array.from({ length: n }, () => Array.from({ length: f }, r));
}

describe('predictors', () => {
  it('ridge recovers a linear function of the features (one target per candidate)', () => {
    const xs = inputs(200, 3);
    const ys = xs.map((x) => [1 + 2 * x[0]! - 3 * x[2]!, 0.5 - x[1]!]);
    const m = fitRidge(xs, ys, 1e-6);
    for (const x of [
      [0.1, 0.2, 0.3],
      [-0.5, 0.9, -0.7],
    ]) {
      const [a, b] = predictRidge(m, x);
      expect(a).toBeCloseTo(1 + 2 * x[0]! - 3 * x[2]!, 5);
      expect(b).toBeCloseTo(0.5 - x[1]!, 5);
    }
  });

  it('boosted trees fit a step function that a linear model cannot', () => {
    const xs = inputs(300, 2);
    const ys = xs.map((x) => [x[0]! > 0.2 ? 1 : 0]);
    const m = fitGbt(xs, ys, { trees: 60, depth: 2, rate: 0.3 });
    expect(predictGbt(m, [0.8, 0])[0]).toBeGreaterThan(0.9);
    expect(predictGbt(m, [-0.6, 0])[0]).toBeLessThan(0.1);
  });

  it('the ONNX form of each predictor, run by onnxruntime, predicts what the TypeScript one does', async () => {
    const xs = inputs(120, 4);
    const ys = xs.map((x) => [x[0]! * x[1]! + (x[2]! > 0 ? 0.5 : 0), 1 - x[3]!, Math.abs(x[0]!)]);
    const meta = { candidates: ['p', 'q', 'r'], features: ['f0', 'f1', 'f2', 'f3'] };
    const models = [fitRidge(xs, ys, 1), fitGbt(xs, ys)];
    for (const m of models) {
      const path = join(dir, `${m.kind}.onnx`);
      await writePredictor(path, m, meta);
      const p = await openPredictor(path);
      expect([p.kind, p.candidates, p.features]).toEqual([m.kind, meta.candidates, meta.features]);
      const got = await p.predict(xs.slice(0, 20));
      const want = xs.slice(0, 20).map((x) => (m.kind === 'ridge' ? predictRidge(m, x) : predictGbt(m, x)));
      got.forEach((row, i) => row.forEach((v, k) => expect(Math.abs(v - want[i]![k]!)).toBeLessThan(1e-4)));
      await p.close();
    }
  });
});
