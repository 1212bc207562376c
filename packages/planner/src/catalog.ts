// A catalog of experts for outcome collection: their base, their eval sets, and each expert's
// task. Paths are relative to the catalog file.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { RecipeError } from '@tessera/recipe';
import { parse } from 'yaml';
import * as z from 'zod';
import { CANDIDATES } from './candidates.js';
import { seeded } from './random.js';

const StepSample = z.strictObject({
  size: z.number().int().positive(),
  seed: z.number().int().nonnegative(),
  candidate: z.string().min(1).default('ta_1.0'),
  experts: z.array(z.string()).min(3).optional().describe('steps among these experts only (default: all)'),
});

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
  include: z
    .array(z.tuple([z.string(), z.string()]))
    .optional()
    .describe('pairs merged besides the (sampled) ones: e.g. every pair of the experts a k-way plan is judged on'),
  same_task: z
    .boolean()
    .optional()
    .describe('also every pair of experts of the same task, after the (sampled) pairs: how much of one expert another one keeps'),
  steps: z
    .union([StepSample, z.array(StepSample).min(1)])
    .optional()
    .describe(
      'also seeded samples of steps of a k-way plan: two experts of different tasks merged by `candidate` (a running result), then merged with an expert of a third task by every candidate',
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
  const named = (name: string, at: string) => {
    const i = index.get(name);
    if (i === undefined) throw new RecipeError(file, at, `unknown expert ${name}`);
    return i;
  };
  let pairs: [number, number][] = [];
  if (c.pairs === undefined || c.pairs === 'cross-task') {
    for (let a = 0; a < experts.length; a++) for (let b = a + 1; b < experts.length; b++) if (experts[a]!.task !== experts[b]!.task) pairs.push([a, b]);
  } else {
    pairs = c.pairs.map((p, i) => pairOf(p, `pairs.${i}`));
  }
  if (c.sample) pairs = sample(pairs, c.sample.size, c.sample.seed);
  const listed = new Set(pairs.map(([a, b]) => `${a}/${b}`));
  for (const [i, p] of (c.include ?? []).entries()) {
    const [a, b] = pairOf(p, `include.${i}`);
    if (!listed.has(`${a}/${b}`)) pairs.push([a, b]);
    listed.add(`${a}/${b}`);
  }
  if (c.same_task)
    for (let a = 0; a < experts.length; a++) for (let b = a + 1; b < experts.length; b++) if (experts[a]!.task === experts[b]!.task) pairs.push([a, b]);
  function pairOf([x, y]: [string, string], at: string): [number, number] {
    const a = named(x, at),
      b = named(y, at);
    if (a === b) throw new RecipeError(file, at, `a pair needs two experts, got ${x} twice`);
    return a < b ? [a, b] : [b, a];
  }
  if (pairs.length === 0) throw new RecipeError(file, 'pairs', 'no pair to merge');
  const steps: Step[] = [];
  const seen = new Set<string>();
  for (const [n, spec] of (c.steps === undefined ? [] : Array.isArray(c.steps) ? c.steps : [c.steps]).entries()) {
    const at = Array.isArray(c.steps) ? `steps.${n}` : 'steps';
    const { size, seed, candidate } = spec;
    if (!CANDIDATES.some((x) => x.name === candidate && x.recipe && !x.pair))
      throw new RecipeError(
        file,
        `${at}.candidate`,
        `${JSON.stringify(candidate)} is not a candidate that merges experts (${CANDIDATES.filter((x) => x.recipe && !x.pair)
          .map((x) => x.name)
          .join(', ')})`,
      );
    const among = spec.experts ? new Set(spec.experts.map((e, i) => named(e, `${at}.experts.${i}`))) : undefined;
    const all: Step[] = [];
    const task = (i: number) => experts[i]!.task;
    const usable = (i: number) => !among || among.has(i);
    for (let a = 0; a < experts.length; a++)
      for (let b = a + 1; b < experts.length; b++)
        for (let z = 0; z < experts.length; z++)
          if ([a, b, z].every(usable) && new Set([task(a), task(b), task(z)]).size === 3) all.push({ from: [a, b], add: z, candidate });
    for (const s of sample(all, size, seed)) {
      const key = `${s.from.join('+')}/${s.add}/${s.candidate}`;
      if (!seen.has(key)) steps.push(s);
      seen.add(key);
    }
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
