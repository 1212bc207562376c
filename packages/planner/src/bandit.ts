// A contextual bandit over merge candidates (disjoint LinUCB): each candidate keeps a ridge
// regression of its reward on the pair's features, and the choice is the candidate with the
// highest upper confidence bound. Reported outcomes update one candidate in O(F²); a new
// candidate (operator, hyper-parameters) starts from the prior and competes at once; new models
// and tasks are just new contexts. The state is plain JSON (a file, or a JetStream KV value).
import { readFile, rename, writeFile } from 'node:fs/promises';

interface Arm {
  /** A⁻¹ (row-major, d × d) and b of the arm's ridge regression */
  inv: number[];
  b: number[];
  pulls: number;
}

export interface BanditState {
  kind: 'linucb';
  /** standardisation of the features (context = standardised features and a constant 1) */
  mean: number[];
  std: number[];
  alpha: number;
  arms: Record<string, Arm>;
}

export class Bandit {
  constructor(readonly state: BanditState) {}

  /** A bandit over `candidates` for contexts standardised like `xs`; `alpha` weighs exploration. */
  static create(candidates: readonly string[], xs: readonly (readonly number[])[], alpha = 0.3): Bandit {
    const f = xs[0]?.length ?? 0;
    const mean = Array.from({ length: f }, (_, j) => xs.reduce((s, x) => s + x[j]!, 0) / Math.max(xs.length, 1));
    const std = Array.from({ length: f }, (_, j) => Math.sqrt(xs.reduce((s, x) => s + (x[j]! - mean[j]!) ** 2, 0) / Math.max(xs.length, 1)) || 1);
    const b = new Bandit({ kind: 'linucb', mean, std, alpha, arms: {} });
    for (const c of candidates) b.addCandidate(c);
    return b;
  }

  get candidates(): string[] {
    return Object.keys(this.state.arms);
  }

  /** Adds a candidate with the prior (identity) regression; a known one is left as it is. */
  addCandidate(name: string): void {
    if (this.state.arms[name]) return;
    const d = this.state.mean.length + 1;
    this.state.arms[name] = { inv: Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 : 0)), b: new Array<number>(d).fill(0), pulls: 0 };
  }

  private context(x: readonly number[]): number[] {
    return [...x.map((v, j) => (v - this.state.mean[j]!) / this.state.std[j]!), 1];
  }

  /** The upper confidence bound of every candidate (allowed: all, or those given). */
  scores(x: readonly number[], allowed: readonly string[] = this.candidates): { candidate: string; mean: number; ucb: number }[] {
    const z = this.context(x);
    return allowed.map((c) => {
      const arm = this.state.arms[c]!;
      const v = mul(arm.inv, z);
      const theta = mul(arm.inv, arm.b);
      const mean = dot(theta, z);
      return { candidate: c, mean, ucb: mean + this.state.alpha * Math.sqrt(Math.max(dot(z, v), 0)) };
    });
  }

  choose(x: readonly number[], allowed?: readonly string[]): string {
    return this.scores(x, allowed).reduce((a, b) => (b.ucb > a.ucb ? b : a)).candidate;
  }

  /** Learns from an outcome: candidate `c` scored `reward` on the pair with features `x`. */
  report(x: readonly number[], c: string, reward: number): void {
    this.addCandidate(c);
    const arm = this.state.arms[c]!;
    const z = this.context(x);
    // Sherman-Morrison: (A + z zᵀ)⁻¹ = A⁻¹ − (A⁻¹ z)(zᵀ A⁻¹) / (1 + zᵀ A⁻¹ z)
    const v = mul(arm.inv, z);
    const denom = 1 + dot(z, v);
    const d = z.length;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) arm.inv[i * d + j] = arm.inv[i * d + j]! - (v[i]! * v[j]!) / denom;
    for (let i = 0; i < d; i++) arm.b[i] = arm.b[i]! + reward * z[i]!;
    arm.pulls++;
  }

  toJSON(): BanditState {
    return this.state;
  }
}

function mul(m: readonly number[], v: readonly number[]): number[] {
  const d = v.length;
  return Array.from({ length: d }, (_, i) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += m[i * d + j]! * v[j]!;
    return s;
  });
}

const dot = (a: readonly number[], b: readonly number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

export async function saveBandit(path: string, b: Bandit): Promise<void> {
  await writeFile(`${path}.tmp`, JSON.stringify(b.toJSON()));
  await rename(`${path}.tmp`, path);
}

export async function loadBandit(path: string): Promise<Bandit> {
  const s = JSON.parse(await readFile(path, 'utf8')) as BanditState;
  if (s.kind !== 'linucb' || typeof s.arms !== 'object') throw new Error(`${path}: not a bandit state`);
  return new Bandit(s);
}
