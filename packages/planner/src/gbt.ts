// Gradient-boosted regression trees (squared loss), one ensemble per candidate: shallow trees
// fitted to the residuals, split thresholds searched among the midpoints of sorted values.

interface TreeNode {
  /** feature index, or -1 for a leaf */
  feature: number;
  threshold: number;
  /** children (node indices) when x[feature] <= threshold, and otherwise */
  left: number;
  right: number;
  value: number;
}

export interface TreeModel {
  kind: 'gbt';
  /** the starting prediction per candidate */
  base: number[];
  /** per candidate, its trees (each a list of nodes, root first); leaf values include the rate */
  trees: TreeNode[][][];
}

export interface GbtOptions {
  trees?: number;
  depth?: number;
  rate?: number;
  minLeaf?: number;
}

function fitTree(xs: number[][], r: number[], idx: number[], depth: number, minLeaf: number, rate: number, nodes: TreeNode[]): number {
  const at = nodes.length;
  const mean = idx.reduce((s, i) => s + r[i]!, 0) / Math.max(idx.length, 1);
  nodes.push({ feature: -1, threshold: 0, left: -1, right: -1, value: rate * mean });
  if (depth === 0 || idx.length < 2 * minLeaf) return at;
  let best = { gain: 1e-12, feature: -1, threshold: 0 };
  const total = idx.reduce((s, i) => s + r[i]!, 0);
  for (let f = 0; f < xs[0]!.length; f++) {
    const sorted = [...idx].sort((p, q) => xs[p]![f]! - xs[q]![f]!);
    let leftSum = 0;
    for (let k = 0; k < sorted.length - 1; k++) {
      leftSum += r[sorted[k]!]!;
      const nl = k + 1,
        nr = sorted.length - nl;
      const v = xs[sorted[k]!]![f]!,
        next = xs[sorted[k + 1]!]![f]!;
      if (nl < minLeaf || nr < minLeaf || v === next) continue;
      // reduction of the squared error by the split
      const gain = (leftSum * leftSum) / nl + ((total - leftSum) * (total - leftSum)) / nr - (total * total) / sorted.length;
      if (gain > best.gain) best = { gain, feature: f, threshold: (v + next) / 2 };
    }
  }
  if (best.feature < 0) return at;
  const left = idx.filter((i) => xs[i]![best.feature]! <= best.threshold);
  const right = idx.filter((i) => xs[i]![best.feature]! > best.threshold);
  const node = nodes[at]!;
  node.feature = best.feature;
  node.threshold = best.threshold;
  node.left = fitTree(xs, r, left, depth - 1, minLeaf, rate, nodes);
  node.right = fitTree(xs, r, right, depth - 1, minLeaf, rate, nodes);
  return at;
}

function treeValue(nodes: readonly TreeNode[], x: readonly number[]): number {
  let n = nodes[0]!;
  while (n.feature >= 0) n = nodes[x[n.feature]! <= n.threshold ? n.left : n.right]!;
  return n.value;
}

export function fitGbt(xs: number[][], ys: number[][], opts: GbtOptions = {}): TreeModel {
  const count = opts.trees ?? 60,
    depth = opts.depth ?? 2,
    rate = opts.rate ?? 0.1,
    minLeaf = opts.minLeaf ?? 4;
  const c = ys[0]!.length;
  const base: number[] = [];
  const trees: TreeNode[][][] = [];
  const all = xs.map((_, i) => i);
  for (let k = 0; k < c; k++) {
    const y = ys.map((v) => v[k]!);
    const b = y.reduce((s, v) => s + v, 0) / y.length;
    const pred = y.map(() => b);
    const list: TreeNode[][] = [];
    for (let t = 0; t < count; t++) {
      const residual = y.map((v, i) => v - pred[i]!);
      const nodes: TreeNode[] = [];
      fitTree(xs, residual, all, depth, minLeaf, rate, nodes);
      xs.forEach((x, i) => {
        pred[i] = pred[i]! + treeValue(nodes, x);
      });
      list.push(nodes);
    }
    base.push(b);
    trees.push(list);
  }
  return { kind: 'gbt', base, trees };
}

export function predictGbt(m: TreeModel, x: readonly number[]): number[] {
  return m.trees.map((list, k) => list.reduce((s, nodes) => s + treeValue(nodes, x), m.base[k]!));
}
