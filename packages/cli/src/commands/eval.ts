import type { Command } from 'commander';
import { table } from '../format.js';
import { deviceOption, positiveInt } from '../options.js';
import { type Io, run } from '../run.js';

export function evalCommand(program: Command, io: Io): void {
  program
    .command('eval')
    .description('exact-match accuracy with greedy decoding on jsonl tasks of {prompt, answer}')
    .argument('<checkpoint>', 'model folder (with config.json and tokenizer.json)')
    .requiredOption('--tasks <paths...>', 'jsonl files, or folders of them')
    .option('--limit <n>', 'rows per task (default: all)', positiveInt)
    .option('--batch <n>', 'sequences per forward batch', positiveInt, 32)
    .option('--device <device>', 'cpu or cuda', deviceOption, 'cpu')
    .option('--threads <n>', 'onnxruntime threads', positiveInt)
    .option('--json', 'print one JSON object per task, then a summary')
    .option('--debug', 'print stack traces')
    .action(
      async (
        path: string,
        flags: { tasks: string[]; limit?: number; batch: number; device: 'cpu' | 'cuda'; threads?: number; json?: boolean; debug?: boolean },
      ) => {
        io.exitCode = await run(io, flags, async () => {
          // the model runtime loads only for model commands
          const { LlamaRuntime, evaluate, loadTasks, loadTokenizer } = await import('@tessera/model');
          const tasks = loadTasks(flags.tasks);
          const rt = await LlamaRuntime.open(path, { device: flags.device, ...(flags.threads ? { threads: flags.threads } : {}) });
          try {
            const tok = await loadTokenizer(path, rt.config.eos);
            const started = performance.now();
            const layers = rt.config.layers;
            const onLayer =
              io.stderr.isTTY && !flags.json
                ? (l: number) => io.stderr.write(`\r\x1b[2Kforward pass: layer ${l + 1}/${layers}${l + 1 === layers ? '\n' : ''}`)
                : undefined;
            const scores = await evaluate(rt, tok, tasks, {
              batchSize: flags.batch,
              ...(flags.limit ? { limit: flags.limit } : {}),
              ...(onLayer ? { onLayer } : {}),
            });
            const seconds = (performance.now() - started) / 1000;
            const mean = scores.reduce((s, x) => s + x.accuracy, 0) / scores.length;
            if (flags.json) {
              for (const { rows: _, ...s } of scores) io.stdout.write(JSON.stringify({ type: 'task', ...s }) + '\n');
              io.stdout.write(JSON.stringify({ type: 'summary', model: path, tasks: scores.length, mean, seconds }) + '\n');
              return;
            }
            io.stdout.write(
              table([
                ['task', 'correct', 'accuracy'],
                ...scores.map((s) => [s.task, `${s.correct}/${s.total}`, `${(100 * s.accuracy).toFixed(1)}%`]),
                ['mean', '', `${(100 * mean).toFixed(1)}%`],
              ]) + '\n',
            );
          } finally {
            await rt.close();
          }
        });
      },
    );
}
