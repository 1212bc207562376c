// Mixture-of-experts checkpoints at scale: planning a three-expert merge of a virtual
// DeepSeek-V3 671B (FP8 with block scales, as published) — time, tasks, memory — and a run of its
// first layers end to end on two worker processes with `null://` output.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tessera } from '../support/cli.js';
import { startNats } from '../support/nats.js';
import { spawnService } from '../support/services.js';
import { planInChild } from './distributed.js';

const m = (k: number) => `synthetic://deepseek-v3-671b?seed=1&model=${k}`;

/** Plans task arithmetic of three experts over the base in a child process. */
export function plan671b(): ReturnType<typeof planInChild> {
  const file = join(tmpdir(), `tessera-671b-${process.pid}.yaml`);
  writeFileSync(
    file,
    `merge_method: task_arithmetic\nbase_model: ${m(0)}\nmodels:\n${[1, 2, 3].map((k) => `  - {model: ${m(k)}, parameters: {weight: 0.5}}`).join('\n')}\n`,
  );
  return planInChild(file);
}

/** Task arithmetic of three experts on the decoder layers [0, layers) (with the embeddings and head), on two single-thread workers. */
export async function layersRun(layers: number): Promise<{ seconds: number; inputGB: number; coordinatorRssMiB: number; tasks: number }> {
  const nats = await startNats();
  const ws = [0, 1].map(() => spawnService(['worker', '--nats', nats.url, '--threads', '1', '--no-fsync']));
  try {
    await Promise.all(ws.map((w) => w.waitFor((l) => l.event === 'started')));
    const file = join(tmpdir(), `tessera-671b-layers-${process.pid}.yaml`);
    const sources = [0, 1, 2, 3].map((k) => `      - {model: ${m(k)}, layer_range: [0, ${layers}]${k > 0 ? ', parameters: {weight: 0.5}' : ''}}`).join('\n');
    writeFileSync(file, `slices:\n  - sources:\n${sources}\nmerge_method: task_arithmetic\nbase_model: ${m(0)}\n`);
    const r = await tessera(['merge', file, '--out', 'null://', '--nats', nats.url, '--json'], { timeoutMs: 3_600_000 });
    const done = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; seconds: number; inputBytes: number; peakRssBytes: number })
      .find((e) => e.type === 'done');
    if (!done) throw new Error(`the 671B layers run failed: ${r.stderr}`);
    const tasks = ws.reduce((n, w) => n + w.lines.filter((l) => l.event === 'task').length, 0);
    return { seconds: done.seconds, inputGB: done.inputBytes / 1e9, coordinatorRssMiB: done.peakRssBytes / 2 ** 20, tasks };
  } finally {
    await Promise.all(ws.map((w) => w.kill()));
    await nats.stop();
  }
}
