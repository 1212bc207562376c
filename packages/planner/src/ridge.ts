// Ridge regression, one linear model per candidate over standardised features (the bias is not
// penalised): the closed form (XᵀX + αI) w = Xᵀy, solved by Cholesky.

export interface LinearModel {
  kind: 'ridge';
  /** standardisation of the inputs */
  mean: number[];
  std: number[];
  /** weights per candidate over the standardised features, and biases */
  weights: number[][];
  bias: number[];
}

export function fitRidge(xs: number[][], ys: number[][], alpha = 1): LinearModel {
  const n = xs.length,
    f = xs[0]!.length,
    c = ys[0]!.length;
  const mean = Array.from({ length: f }, (_, j) => xs.reduce((s, x) => s + x[j]!, 0) / n);
  const std = Array.from({ length: f }, (_, j) => Math.sqrt(xs.reduce((s, x) => s + (x[j]! - mean[j]!) ** 2, 0) / n) || 1);
  const z = xs.map((x) => x.map((v, j) => (v - mean[j]!) / std[j]!));
  // A = ZᵀZ + αI (Z is centred, so the bias is the mean target)
  const a = Array.from({ length: f }, (_, i) => Array.from({ length: f }, (_, j) => z.reduce((s, r) => s + r[i]! * r[j]!, 0) + (i === j ? alpha : 0)));
  const l = cholesky(a);
  const weights: number[][] = [],
    bias: number[] = [];
  for (let k = 0; k < c; k++) {
    const yMean = ys.reduce((s, y) => s + y[k]!, 0) / n;
    const rhs = Array.from({ length: f }, (_, i) => z.reduce((s, r, q) => s + r[i]! * (ys[q]![k]! - yMean), 0));
    weights.push(solve(l, rhs));
    bias.push(yMean);
  }
  return { kind: 'ridge', mean, std, weights, bias };
}

export function predictRidge(m: LinearModel, x: readonly number[]): number[] {
  const z = x.map((v, j) => (v - m.mean[j]!) / m.std[j]!);
  return m.weights.map((w, k) => m.bias[k]! + w.reduce((s, wj, j) => s + wj * z[j]!, 0));
}

/** Lower-triangular L with L Lᵀ = A (A symmetric positive definite). */
function cholesky(a: number[][]): number[][] {
  const n = a.length;
  const l = a.map(() => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i]![j]!;
      for (let k = 0; k < j; k++) s -= l[i]![k]! * l[j]![k]!;
      l[i]![j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j]![j]!;
    }
  }
  return l;
}

function solve(l: number[][], b: number[]): number[] {
  const n = b.length;
  const y = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i]![k]! * y[k]!;
    y[i] = s / l[i]![i]!;
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k]![i]! * x[k]!;
    x[i] = s / l[i]![i]!;
  }
  return x;
}
