// Exact-match evaluation with greedy decoding. A row is correct iff greedy decoding from
// [prompt] yields the answer's tokens followed by EOS. Greedy decoding reproduces the answer
// exactly when, teacher-forced on prompt + answer + EOS, the argmax at every answer position
// is the next token (ties to the lowest id); so each row needs one batched forward pass,
// not one pass per generated token.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { forward } from './forward.js';
import { ModelError } from './errors.js';
import type { LlamaRuntime } from './runtime.js';
import type { TextEncoder } from './tokenizer.js';

export interface EvalRow {
  prompt: string;
  answer: string;
}
export interface EvalTask {
  name: string;
  file: string;
  rows: EvalRow[];
}
export interface TaskScore {
  task: string;
  correct: number;
  total: number;
  accuracy: number;
  /** whether each row (in file order) is correct */
  rows: boolean[];
}

/** jsonl files of {prompt, answer} rows, or folders of them (every *.jsonl) */
export function loadTasks(paths: readonly string[]): EvalTask[] {
  const files = paths.flatMap((p) => {
    const info = statSync(p, { throwIfNoEntry: false });
    if (!info) throw new ModelError(p, 'no such file or directory');
    return info.isDirectory()
      ? readdirSync(p)
          .filter((f) => f.endsWith('.jsonl'))
          .sort()
          .map((f) => join(p, f))
      : [p];
  });
  if (files.length === 0) throw new ModelError(paths.join(', '), 'no .jsonl task files');
  return files.map((file) => {
    const rows = readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line, i) => {
        if (line.trim() === '') return [];
        let row: unknown;
        try {
          row = JSON.parse(line);
        } catch {
          throw new ModelError(`${file}:${i + 1}`, 'not valid JSON');
        }
        const r = row as Partial<EvalRow>;
        if (typeof r?.prompt !== 'string' || typeof r.answer !== 'string')
          throw new ModelError(`${file}:${i + 1}`, 'a row needs string fields "prompt" and "answer"');
        return [{ prompt: r.prompt, answer: r.answer }];
      });
    return { name: basename(file, '.jsonl'), file, rows };
  });
}

export interface EvalOptions {
  limit?: number;
  batchSize?: number;
  onLayer?: (layer: number) => void;
}

export async function evaluate(rt: LlamaRuntime, tok: TextEncoder, tasks: readonly EvalTask[], opts: EvalOptions = {}): Promise<TaskScore[]> {
  const items = tasks.flatMap((t, ti) =>
    t.rows.slice(0, opts.limit ?? t.rows.length).map((r) => {
      const prompt = tok.prompt(r.prompt),
        target = [...tok.continuation(r.answer), tok.eos];
      return { task: ti, prompt, target };
    }),
  );
  const seqs = items.map((it) => [...it.prompt, ...it.target.slice(0, -1)]);
  const r = await forward(rt, seqs, {
    ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
    ...(opts.onLayer ? { onLayer: opts.onLayer } : {}),
    positions: (i) => items[i]!.target.map((_, j) => items[i]!.prompt.length - 1 + j),
  });
  const V = rt.config.vocabSize;
  const scores: TaskScore[] = tasks.map((t) => ({ task: t.name, correct: 0, total: 0, accuracy: 0, rows: [] }));
  items.forEach((it, i) => {
    const logits = r.logits[i]!;
    const ok = it.target.every((token, j) => argmax(logits, j * V, V) === token);
    const score = scores[it.task]!;
    score.total++;
    score.rows.push(ok);
    if (ok) score.correct++;
  });
  for (const s of scores) s.accuracy = s.total ? s.correct / s.total : 0;
  return scores;
}

/** index of the largest of `n` values from `at`, the lowest index among equals */
export function argmax(v: Float32Array, at: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[at + i]! > v[at + best]!) best = i;
  return best;
}
