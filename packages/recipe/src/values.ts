// Parameter values as mergekit evaluates them for one tensor: scalars, gradients interpolated
// over the layers, and filter lists where the first matching entry wins.
import type { ParamValue } from '@tessera/tensor';
import type { ParamValueInput } from './schema.js';

export type ParamMap = Readonly<Record<string, ParamValueInput>>;

/** A gradient's value at t in [0, 1]. */
export function gradientAt(g: readonly number[], t: number): number {
  const s = t * (g.length - 1);
  const i = Math.floor(s);
  const frac = s - i;
  return (1 - frac) * g[i]! + frac * g[Math.min(i + 1, g.length - 1)]!;
}

/** Evaluates a value for a tensor name at position t; undefined when no filter entry matches. */
export function evaluate(v: ParamValueInput, tensorName: string, t: number): ParamValue | undefined {
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  if (v.length === 0) return undefined;
  if (typeof v[0] === 'number') return gradientAt(v as number[], t);
  for (const entry of v as { filter?: string | undefined; value: number | boolean | number[] }[]) {
    if (entry.filter === undefined || entry.filter === '*' || tensorName.includes(entry.filter)) {
      return evaluate(entry.value, tensorName, t);
    }
  }
  return undefined;
}

/** Looks a parameter up through levels (most specific first); undefined when no level has it. */
export function lookup(levels: readonly (ParamMap | undefined)[], name: string, tensorName: string, t: number): ParamValue | undefined {
  for (const level of levels) {
    if (!level || !Object.hasOwn(level, name)) continue;
    const v = evaluate(level[name]!, tensorName, t);
    if (v !== undefined) return v;
  }
  return undefined;
}
