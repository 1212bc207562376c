// Peak memory as the model grows: the same task-arithmetic merge of a base and 3 experts on
// two virtual Llama sizes (generated on read, so no disk is needed), embedded mode, 2 threads,
// null:// output. Slices run stripe by stripe, so the peak should not grow with the model.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tessera } from '../support/cli.js';

export interface ScaleRun {
  size: string;
  inputGB: number;
  seconds: number;
  peakRssMiB: number;
}

export async function memoryScale(sizes: string[], workers: number): Promise<ScaleRun[]> {
  const runs: ScaleRun[] = [];
  for (const size of sizes) {
    const m = (k: number) => `synthetic://llama-${size}?seed=1&model=${k}`;
    const file = join(tmpdir(), `tessera-scale-${size}-${process.pid}.yaml`);
    writeFileSync(
      file,
      `merge_method: task_arithmetic\nbase_model: ${m(0)}\nmodels:\n${[1, 2, 3].map((k) => `  - {model: ${m(k)}, parameters: {weight: 0.3}}`).join('\n')}\ndtype: bfloat16\n`,
    );
    const r = await tessera(['merge', file, '--out', 'null://', '--workers', String(workers), '--json'], { timeoutMs: 3_600_000 });
    const done = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; seconds: number; inputBytes: number; peakRssBytes: number })
      .find((e) => e.type === 'done');
    if (!done) throw new Error(`merge of synthetic llama-${size} failed: ${r.stderr}`);
    runs.push({ size, inputGB: done.inputBytes / 1e9, seconds: done.seconds, peakRssMiB: done.peakRssBytes / 2 ** 20 });
  }
  return runs;
}
