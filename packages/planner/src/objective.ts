// What a plan should keep: a weight per expert (how much its ability counts; default 1 each),
// from an objective file: YAML or JSON `weights:` mapping an expert (its path, or its folder's
// name) to a non-negative number.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { RecipeError } from '@tessera/recipe';
import { parse } from 'yaml';

export function objectiveWeights(file: string, models: readonly string[]): number[] {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RecipeError(file, '', `cannot read the objective (${(e as Error).message.split('\n')[0]})`);
  }
  const weights = (raw as { weights?: unknown } | null)?.weights;
  if (typeof weights !== 'object' || weights === null || Array.isArray(weights))
    throw new RecipeError(file, 'weights', 'a mapping of experts to weights is required');
  const entries = Object.entries(weights as Record<string, unknown>);
  for (const [name, w] of entries) {
    if (typeof w !== 'number' || !(w >= 0)) throw new RecipeError(file, `weights.${name}`, `must be a non-negative number, got ${JSON.stringify(w)}`);
    if (!models.some((m) => m === name || basename(m) === name)) throw new RecipeError(file, `weights.${name}`, 'names none of the experts planned');
  }
  return models.map((m) => {
    const hit = entries.find(([name]) => name === m || name === basename(m));
    return hit ? (hit[1] as number) : 1;
  });
}
