// Accuracy of a model on exact-match eval sets: the measure every outcome is made of.

/** Accuracies of the model in `dir` on the tasks of these eval files (greedy, exact match), in order. */
export async function accuraciesOf(dir: string, evalFiles: string[]): Promise<number[]> {
  const m = await import('@tessera/model');
  const rt = await m.LlamaRuntime.open(dir);
  try {
    const scores = await m.evaluate(rt, await m.loadTokenizer(dir, rt.config.eos), m.loadTasks(evalFiles), { batchSize: 64 });
    return evalFiles.map((f) => scores.find((s) => f.endsWith(`/${s.task}.jsonl`))!.accuracy);
  } finally {
    await rt.close();
  }
}
