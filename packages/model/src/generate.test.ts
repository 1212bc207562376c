import { join } from 'node:path';
import { expect, it } from 'vitest';
import { evaluate, loadTasks } from './eval.js';
import { generate } from './generate.js';
import { LlamaRuntime } from './runtime.js';
import { loadTokenizer } from './tokenizer.js';

const ZOO = join(import.meta.dirname, '../../../test/fixtures/zoo');

it('greedy decoding with the key/value cache agrees, row by row, with the teacher-forced scoring', async () => {
  const rt = await LlamaRuntime.open(join(ZOO, 'up'));
  try {
    const tok = await loadTokenizer(join(ZOO, 'up'), rt.config.eos);
    const tasks = loadTasks([join(ZOO, 'eval', 'up.jsonl'), join(ZOO, 'eval', 'rev.jsonl'), join(ZOO, 'eval', 'sort.jsonl')]).map((t) => ({
      ...t,
      rows: t.rows.slice(0, 40),
    }));
    const scores = await evaluate(rt, tok, tasks);
    const rows = tasks.flatMap((t) => t.rows);
    const g = await generate(
      rt,
      rows.map((r) => tok.prompt(r.prompt)),
      { maxNewTokens: 10, batchSize: 12 },
    );
    const greedy = rows.map((r, i) => {
      const want = [...tok.continuation(r.answer), tok.eos];
      return want.every((t, j) => g.tokens[i]![j] === t);
    });
    expect(greedy).toEqual(scores.flatMap((s) => s.rows));
    expect(greedy.filter(Boolean).length).toBeGreaterThan(40);
    expect(greedy.filter((x) => !x).length).toBeGreaterThan(20);
    expect(g.decode.tokens).toBeGreaterThan(rows.length);
  } finally {
    await rt.close();
  }
});
