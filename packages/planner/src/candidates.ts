// The merge candidates the planner chooses among for a pair: operators with hyper-parameters,
// and keeping one of the two experts (merging is not always right).

export interface Candidate {
  name: string;
  /** the recipe body for experts a and b over the base; undefined: keep one expert */
  recipe?: (base: string, a: string, b: string) => string;
  /** keep expert 0 (a) or 1 (b) */
  keep?: 0 | 1;
}

const two =
  (method: string, params: string, globals = '') =>
  (base: string, a: string, b: string) =>
    `merge_method: ${method}\nbase_model: ${JSON.stringify(base)}\nmodels:\n  - {model: ${JSON.stringify(a)}, parameters: {${params}}}\n  - {model: ${JSON.stringify(b)}, parameters: {${params}}}\n${globals}dtype: bfloat16\n`;

function grid(): Candidate[] {
  const out: Candidate[] = [{ name: 'linear', recipe: (base, a, b) => two('linear', 'weight: 1')(base, a, b).replace(/^base_model: .*\n/m, '') }];
  for (const l of [0.5, 0.7, 1.0, 1.3, 1.6])
    out.push({ name: `ta_${l.toFixed(1)}`, recipe: two('task_arithmetic', 'weight: 1', `parameters: {lambda: ${l}}\n`) });
  for (const method of ['ties', 'dare_ties'])
    for (const d of [0.2, 0.5, 0.8])
      for (const l of [1.0, 1.5])
        out.push({ name: `${method}_${d}_${l.toFixed(1)}`, recipe: two(method, `weight: 1, density: ${d}`, `parameters: {lambda: ${l}}\n`) });
  out.push({ name: 'breadcrumbs_ties_0.9', recipe: two('breadcrumbs_ties', 'weight: 1, density: 0.9, gamma: 0.01') });
  out.push({ name: 'della_0.5', recipe: two('della', 'weight: 1, density: 0.5, epsilon: 0.1') });
  out.push({
    name: 'slerp_0.5',
    recipe: (_base, a, b) =>
      `merge_method: slerp\nbase_model: ${JSON.stringify(a)}\nmodels:\n  - {model: ${JSON.stringify(a)}}\n  - {model: ${JSON.stringify(b)}}\nparameters: {t: 0.5}\ndtype: bfloat16\n`,
  });
  out.push({ name: 'keep_a', keep: 0 }, { name: 'keep_b', keep: 1 });
  return out;
}

/** Every candidate of the public grid, in a fixed order. */
export const CANDIDATES: readonly Candidate[] = grid();
