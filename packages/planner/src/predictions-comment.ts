// The planner's predictions, carried in the recipe it writes as one comment line of JSON, so that
// whoever runs the recipe later (the coordinator's status page) can show what was predicted.

export interface PlannedStep {
  /** what the step merges, e.g. "add + rev" */
  step: string;
  /** the candidate chosen */
  chosen: string;
  /** predicted normalised score of every candidate, best first */
  candidates: { candidate: string; score: number }[];
}

const PREFIX = '# tessera-predictions: ';

export function predictionsComment(steps: PlannedStep[]): string {
  const round = (x: number) => Math.round(x * 1e4) / 1e4;
  return `${PREFIX}${JSON.stringify(steps.map((s) => ({ ...s, candidates: s.candidates.map((c) => ({ candidate: c.candidate, score: round(c.score) })) })))}\n`;
}

/** The predictions of a planned recipe; none for a recipe the planner did not write. */
export function readPredictions(recipe: string): PlannedStep[] {
  const line = recipe.split('\n').find((l) => l.startsWith(PREFIX));
  if (!line) return [];
  try {
    const steps = JSON.parse(line.slice(PREFIX.length)) as unknown;
    return Array.isArray(steps) ? (steps as PlannedStep[]).filter((s) => typeof s?.step === 'string' && Array.isArray(s.candidates)) : [];
  } catch {
    return [];
  }
}
