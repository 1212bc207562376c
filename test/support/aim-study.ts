// Accuracy of zoo merges with and without AIM: each merge is written once, AIM at every ω is
// applied to it with the base's statistics (as `tessera aim` does), and the merged models are
// scored on the eval sets of the merged experts' tasks.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedExecutor, applyAimToCheckpoint, calibrationSequences, collectActivations, mergeRecipeFile } from '@tessera/engine';
import { LlamaRuntime, evaluate, loadTasks, loadTokenizer, writeStats } from '@tessera/model';

export const STUDY_OPS: Record<string, string> = {
  'ta_1.0': 'merge_method: task_arithmetic',
  'ties_0.2': 'merge_method: ties\nparameters: {density: 0.2}',
  'dare_ties_0.2': 'merge_method: dare_ties\nparameters: {density: 0.2}\nseed: 0',
};

export interface StudyRow {
  experts: string[];
  op: string;
  omega: number | null;
  accuracy: Record<string, number>;
}

export async function aimStudy(zoo: string, root: string, groups: string[][], ops: string[], omegas: number[]): Promise<StudyRow[]> {
  const exec = new EmbeddedExecutor(2);
  const stats = join(root, 'stats.arrow');
  try {
    if (!existsSync(stats)) {
      const base = join(zoo, 'base');
      await writeStats(
        stats,
        await collectActivations(base, await calibrationSequences(base, join(zoo, 'probes.jsonl')), { executor: exec, workDir: root, chains: 2 }),
      );
    }
    const rows: StudyRow[] = [];
    for (const experts of groups) {
      const tasks = loadTasks(experts.map((e) => join(zoo, 'eval', `${e}.jsonl`)));
      for (const op of ops) {
        const name = `${experts.join('+')}-${op}`;
        const plain = join(root, name);
        writeFileSync(
          `${plain}.yaml`,
          `${STUDY_OPS[op]}\nbase_model: ${join(zoo, 'base')}\nmodels:\n${experts.map((e) => `  - {model: ${join(zoo, e)}, parameters: {weight: 1}}\n`).join('')}`,
        );
        if (!existsSync(plain)) await mergeRecipeFile(`${plain}.yaml`, { out: plain, executor: exec, fsync: false });
        for (const omega of [null, ...omegas]) {
          let dir = plain;
          if (omega !== null) {
            dir = `${plain}-aim${omega}`;
            if (!existsSync(dir)) await applyAimToCheckpoint(join(zoo, 'base'), plain, stats, { out: dir, omega, executor: exec, fsync: false });
          }
          const rt = await LlamaRuntime.open(dir);
          try {
            const scores = await evaluate(rt, await loadTokenizer(dir, rt.config.eos), tasks, { batchSize: 64 });
            rows.push({ experts, op, omega, accuracy: Object.fromEntries(scores.map((s) => [s.task, s.accuracy])) });
          } finally {
            await rt.close();
          }
        }
      }
    }
    return rows;
  } finally {
    await exec.close();
  }
}
