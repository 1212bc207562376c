// The merge candidates the planner chooses among for a pair: operators with hyper-parameters,
// and keeping one of the two experts (merging is not always right). Every operator but SLERP
// also merges more than two experts with the same parameters (a fixed choice for a k-way merge).

export interface Candidate {
  name: string;
  /** the recipe body for these experts over the base (two, or any number unless `pair`); undefined: keep one expert */
  recipe?: (base: string, models: string[]) => string;
  /** merges exactly two experts */
  pair?: true;
  /** keep expert 0 (a) or 1 (b) */
  keep?: 0 | 1;
}

const all =
  (method: string, params: string, globals = '') =>
  (base: string, models: string[]) =>
    `merge_method: ${method}\nbase_model: ${JSON.stringify(base)}\nmodels:\n${models.map((m) => `  - {model: ${JSON.stringify(m)}, parameters: {${params}}}\n`).join('')}${globals}dtype: bfloat16\n`;

function grid(): Candidate[] {
  const out: Candidate[] = [{ name: 'linear', recipe: (base, models) => all('linear', 'weight: 1')(base, models).replace(/^base_model: .*\n/m, '') }];
  for (const l of [0.5, 0.7, 1.0, 1.3, 1.6])
    out.push({ name: `ta_${l.toFixed(1)}`, recipe: all('task_arithmetic', 'weight: 1', `parameters: {lambda: ${l}}\n`) });
  for (const method of ['ties', 'dare_ties'])
    for (const d of [0.2, 0.5, 0.8])
      for (const l of [1.0, 1.5])
        out.push({ name: `${method}_${d}_${l.toFixed(1)}`, recipe: all(method, `weight: 1, density: ${d}`, `parameters: {lambda: ${l}}\n`) });
  out.push({ name: 'breadcrumbs_ties_0.9', recipe: all('breadcrumbs_ties', 'weight: 1, density: 0.9, gamma: 0.01') });
  out.push({ name: 'della_0.5', recipe: all('della', 'weight: 1, density: 0.5, epsilon: 0.1') });
  out.push({
    name: 'slerp_0.5',
    pair: true,
    recipe: (_base, [a, b]) =>
      `merge_method: slerp\nbase_model: ${JSON.stringify(a)}\nmodels:\n  - {model: ${JSON.stringify(a)}}\n  - {model: ${JSON.stringify(b)}}\nparameters: {t: 0.5}\ndtype: bfloat16\n`,
  });
  out.push({ name: 'keep_a', keep: 0 }, { name: 'keep_b', keep: 1 });
  return out;
}

/** Every candidate of the public grid, in a fixed order. */
export const CANDIDATES: readonly Candidate[] = grid();

/** Whether the task vector of c's merge is a linear combination of its sides' (linear, task arithmetic). */
export function exactCombination(c: Candidate): boolean {
  return c.name === 'linear' || c.name.startsWith('ta_');
}

/**
 * Coefficients of the task vector of candidate c merging two sides, over the experts' task vectors
 * (each side's coefficients given): exact for linear and task arithmetic, the task arithmetic of
 * the same λ for the sparsifying operators, the mean for SLERP.
 */
export function mergeCoefficients(c: Candidate, left: readonly number[], right: readonly number[]): number[] {
  const lambda = /_(\d+(?:\.\d+)?)$/.exec(c.name);
  if (c.name === 'linear' || c.name.startsWith('slerp')) return left.map((v, i) => (v + right[i]!) / 2);
  const l = c.name.startsWith('ta_') || c.name.startsWith('ties_') || c.name.startsWith('dare_ties_') ? Number(lambda?.[1] ?? 1) : 1;
  return left.map((v, i) => l * (v + right[i]!));
}
