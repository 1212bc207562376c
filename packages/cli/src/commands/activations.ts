import { calibrationSequences, collectActivations } from '@tessera/engine';
import type { Command } from 'commander';
import { type ChainFlags, chainCommand, withChainJob } from '../chain-job.js';
import { type Io, run } from '../run.js';

export function activationsCommand(program: Command, io: Io): void {
  chainCommand(
    program,
    'activations',
    "activation statistics of a model on calibration prompts (AIM's per-channel mean |x| sums), as an Arrow IPC file",
    'calibration prompts: jsonl of {"prompt": ...}',
    'statistics file (.arrow)',
  )
    .option('--json', 'print one JSON object per event')
    .action(async (model: string, flags: ChainFlags) => {
      io.exitCode = await run(io, flags, async (signal) => {
        const seqs = await calibrationSequences(model, flags.probes);
        const started = performance.now();
        const stats = await withChainJob(flags, signal, (opts) =>
          collectActivations(model, seqs, {
            ...opts,
            onStage: (done, total) => {
              if (flags.json) io.stdout.write(JSON.stringify({ type: 'stage', done, total }) + '\n');
              else io.stderr.write(`\rstages ${done}/${total}`);
            },
          }),
        );
        await (await import('@tessera/model')).writeStats(flags.out, stats);
        const tokens = seqs.reduce((n, s) => n + s.length, 0),
          seconds = (performance.now() - started) / 1000;
        if (flags.json)
          io.stdout.write(JSON.stringify({ type: 'done', out: flags.out, tensors: stats.sums.size, sequences: seqs.length, tokens, seconds }) + '\n');
        else
          io.stderr.write(
            `\n${flags.out}: statistics of ${stats.sums.size} tensors over ${seqs.length} sequences (${tokens} tokens) in ${seconds.toFixed(1)}s\n`,
          );
      });
    });
}
