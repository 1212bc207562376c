// `tessera eval` against the zoo's published accuracies (RESULTS.md / results_models.csv).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlamaRuntime, evaluate, loadTasks, loadTokenizer } from '@tessera/model';
import { describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { ZOO } from './support/vocab-fixtures.js';

const published = new Map(
  readFileSync(join(ZOO, 'results_models.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => {
      const [model, task, acc] = l.split(',');
      return [`${model}/${task}`, Number(acc)] as const;
    }),
);

describe('exact-match evaluation', () => {
  it('encodes prompts with the zoo tokenizer rule (BOS, then bytes)', async () => {
    const tok = await loadTokenizer(join(ZOO, 'base'), 257);
    expect(tok.prompt('add:12+3=')).toEqual([256, 97, 100, 100, 58, 49, 50, 43, 51, 61]);
    expect(tok.continuation('15')).toEqual([49, 53]);
  });

  it.each(['base', 'multitask', 'add', 'vow'])('reproduces the published accuracies of %s on every task within one example', async (model) => {
    const rt = await LlamaRuntime.open(join(ZOO, model));
    try {
      const scores = await evaluate(rt, await loadTokenizer(join(ZOO, model), rt.config.eos), loadTasks([join(ZOO, 'eval')]), { batchSize: 64 });
      expect(scores.map((s) => s.task)).toEqual(['add', 'dup', 'max', 'rev', 'sort', 'swap', 'up', 'vow']);
      for (const s of scores) {
        expect(s.total).toBe(200);
        expect(Math.abs(s.correct - 200 * published.get(`${model}/${s.task}`)!), `${model} on ${s.task}`).toBeLessThanOrEqual(1);
      }
    } finally {
      await rt.close();
    }
  });

  it('tessera eval prints per-task JSON; bad task files exit 2 naming file and line', async () => {
    const r = await tessera(['eval', join(ZOO, 'up'), '--tasks', join(ZOO, 'eval', 'up.jsonl'), '--limit', '20', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ type: 'task', task: 'up', total: 20, correct: 20 });
    expect(lines[1]).toMatchObject({ type: 'summary', mean: 1 });
    const bad = join(import.meta.dirname, 'fixtures', 'generated', 'bad-task.jsonl');
    mkdirSync(join(bad, '..'), { recursive: true });
    writeFileSync(bad, '{"prompt": "up:abc=", "answer": "ABC"}\n{"prompt": 3}\n');
    const e = await tessera(['eval', join(ZOO, 'up'), '--tasks', bad]);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/bad-task\.jsonl:2: a row needs string fields "prompt" and "answer"/);
  });
});
