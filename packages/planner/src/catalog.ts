// A catalog of experts for outcome collection: their base, their eval sets, and each expert's
// task. Paths are relative to the catalog file.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { RecipeError } from '@tessera/recipe';
import { parse } from 'yaml';
import { z } from 'zod';
import { CANDIDATES } from './candidates.js';
import { seeded } from './random.js';

const Schema = z.strictObject({
  base: z.string().min(1).describe('the base model'),
  eval: z.string().min(1).describe('folder of <task>.jsonl exact-match eval sets'),
  experts: z.array(z.strictObject({ name: z.string().min(1), path: z.string().min(1), task: z.string().min(1) })).describe('experts and their tasks'),
  pairs: z
    .union([z.literal('cross-task'), z.array(z.tuple([z.string(), z.string()]))])
    .optional()
    .describe('the pairs to merge: every pair of experts of different tasks (default), or a list'),
  sample: z
    .strictObject({ size: z.number().int().positive(), seed: z.number().int().nonnegative() })
    .optional()
    .describe('a reproducible sample of the pairs (a seeded shuffle), kept in catalog order'),
  same_task: z
    .boolean()
    .optional()
    .describe('also every pair of experts of the same task, after the (sampled) pairs: how much of one expert another one keeps'),
  steps: z
    .strictObject({
      size: z.number().int().positive(),
      seed: z.number().int().nonnegative(),
      candidate: z.string().min(1).default('ta_1.0'),
    })
    .optional()
    .describe(
      'also a seeded sample of steps of a k-way plan: two experts of different tasks merged by `candidate` (a running result), then merged with an expert of a third task by every candidate',
    ),
});

export interface Expert {
  name: string;
  path: string;
  task: string;
}

export interface Catalog {
  file: string;
  base: string;
  eval: string;
  experts: Expert[];
  /** unordered pairs [a, b] of expert indices, a < b */
  pairs: [number, number][];
  /** steps of a k-way plan: experts `from` merged by `candidate`, then with expert `add` */
  steps: Step[];
}

export interface Step {
  from: [number, number];
  add: number;
  candidate: string;
}

export function loadCatalog(file: string): Catalog {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RecipeError(file, '', `cannot read the catalog (${(e as Error).message.split('\n')[0]})`);
  }
  const r = Schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new RecipeError(file, issue.path.join('.'), issue.message);
  }
  const c = r.data;
  const dir = dirname(resolve(file));
  if (c.experts.length < 2) throw new RecipeError(file, 'experts', `a catalog needs at least two experts, got ${c.experts.length}`);
  const experts = c.experts.map((e) => ({ ...e, path: resolve(dir, e.path) }));
  const index = new Map(experts.map((e, i) => [e.name, i]));
  if (index.size !== experts.length) throw new RecipeError(file, 'experts', 'two experts have the same name');
  let pairs: [number, number][] = [];
  if (c.pairs === undefined || c.pairs === 'cross-task') {
    for (let a = 0; a < experts.length; a++) for (let b = a + 1; b < experts.length; b++) if (experts[a]!.task !== experts[b]!.task) pairs.push([a, b]);
  } else {
    pairs = c.pairs.map(([x, y], i) => {
      const a = index.get(x),
        b = index.get(y);
      if (a === undefined || b === undefined) throw new RecipeError(file, `pairs.${i}`, `unknown expert ${a === undefined ? x : y}`);
      if (a === b) throw new RecipeError(file, `pairs.${i}`, `a pair needs two experts, got ${x} twice`);
      return a < b ? [a, b] : [b, a];
    });
  }
  if (c.sample) pairs = sample(pairs, c.sample.size, c.sample.seed);
  if (c.same_task)
    for (let a = 0; a < experts.length; a++) for (let b = a + 1; b < experts.length; b++) if (experts[a]!.task === experts[b]!.task) pairs.push([a, b]);
  if (pairs.length === 0) throw new RecipeError(file, 'pairs', 'no pair to merge');
  let steps: Step[] = [];
  if (c.steps) {
    const { size, seed, candidate } = c.steps;
    if (!CANDIDATES.some((x) => x.name === candidate && x.recipe && !x.pair))
      throw new RecipeError(
        file,
        'steps.candidate',
        `${JSON.stringify(candidate)} is not a candidate that merges experts (${CANDIDATES.filter((x) => x.recipe && !x.pair)
          .map((x) => x.name)
          .join(', ')})`,
      );
    const all: Step[] = [];
    const task = (i: number) => experts[i]!.task;
    for (let a = 0; a < experts.length; a++)
      for (let b = a + 1; b < experts.length; b++)
        for (let z = 0; z < experts.length; z++) if (new Set([task(a), task(b), task(z)]).size === 3) all.push({ from: [a, b], add: z, candidate });
    steps = sample(all, size, seed);
  }
  return { file, base: resolve(dir, c.base), eval: resolve(dir, c.eval), experts, pairs, steps };
}

/** `size` of the items by a seeded Fisher-Yates shuffle (xorshift32), returned in their original order. */
function sample<T>(pairs: T[], size: number, seed: number): T[] {
  const next = seeded(seed);
  const idx = pairs.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx
    .slice(0, size)
    .sort((p, q) => p - q)
    .map((i) => pairs[i]!);
}
