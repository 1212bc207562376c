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
  /** per side (a's task, b's task) and candidate: the accuracy kept, relative to that expert's own */
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
      sides: [side((o) => (o.ownA > 0 ? o.accA / o.ownA : 0)), side((o) => (o.ownB > 0 ? o.accB / o.ownB : 0))],
    });
  }
  return { features: FEATURES, candidates, examples };
}
