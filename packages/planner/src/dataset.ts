// Outcomes as a learning problem: one example per pair (its features) with one target per
// candidate (the normalised score), for pairs that have every candidate.
import type { OutcomeRow } from './collect.js';
import { FEATURES } from './features.js';

export interface PairExample {
  a: string;
  b: string;
  /** the tasks of side a (one, or two for a running result of a k-way plan) and of side b */
  tasks: string[];
  x: number[];
  /** score per candidate, in `candidates` order: the mean of the two sides */
  y: number[];
  /** per side (a's task, b's task) and candidate: the accuracy kept, relative to that expert's own (at most 1) */
  sides: [number[], number[]];
}

export interface Dataset {
  features: readonly string[];
  candidates: string[];
  examples: PairExample[];
}

export function toDataset(rows: readonly OutcomeRow[]): Dataset {
  const candidates = [...new Set(rows.map((r) => r.candidate))];
  const pairs = new Map<string, OutcomeRow[]>();
  for (const r of rows) {
    const key = `${r.a}\u0000${r.b}`;
    const list = pairs.get(key) ?? [];
    list.push(r);
    pairs.set(key, list);
  }
  // the share of a side's own ability a merge keeps, at most all of it: a plan values no more
  // (above it, the share of a weak expert, 30-50% accurate, ranges up to 9x, and a model fit to
  // that range tells apart merges that keep 60% and 90% of a strong one less well)
  const kept = (acc: number, own: number) => (own > 0 ? Math.min(1, acc / own) : 0);
  const examples: PairExample[] = [];
  for (const list of pairs.values()) {
    const by = new Map(list.map((r) => [r.candidate, r]));
    if (!candidates.every((c) => by.has(c))) continue;
    const r = list[0]!;
    const side = (pick: (o: OutcomeRow) => number) => candidates.map((c) => pick(by.get(c)!));
    examples.push({
      a: r.a,
      b: r.b,
      tasks: [...r.taskA.split('+'), ...r.taskB.split('+')],
      x: FEATURES.map((f) => r.features[f]),
      y: side((o) => o.score),
      sides: [side((o) => kept(o.accA, o.ownA)), side((o) => kept(o.accB, o.ownB))],
    });
  }
  return { features: FEATURES, candidates, examples };
}
