import { dirname, resolve } from 'node:path';
import { EmbeddedExecutor, type Executor, calibrationSequences, collectActivations } from '@tessera/engine';
import type { Command } from 'commander';
import { natsConnection, natsOptions, type NatsFlags } from '../nats-options.js';
import { deviceOption, positiveInt } from '../options.js';
import { remoteExecutor } from '../remote-executor.js';
import { type Io, run } from '../run.js';

interface ActivationFlags extends NatsFlags {
  probes: string;
  out: string;
  chains: number;
  batch: number;
  workers?: number;
  device: 'cpu' | 'cuda';
  workDir?: string;
  json?: boolean;
  debug?: boolean;
}

/** Runs the activation-statistics job on threads of this process or, with --nats, on remote workers. */
export async function withExecutor<T>(flags: NatsFlags & { workers?: number }, threads: number, body: (e: Executor) => Promise<T>): Promise<T> {
  const remote = flags.nats ? await remoteExecutor(natsConnection(flags)) : undefined;
  const executor = remote?.executor ?? new EmbeddedExecutor(flags.workers ?? threads);
  try {
    return await body(executor);
  } finally {
    await (remote ? remote.close() : executor.close());
  }
}

/** Options of the jobs that run a model over chains of sequences, layer by layer. */
export function chainOptions(cmd: Command): Command {
  return cmd
    .option('--chains <n>', 'chains of sequences run in parallel', positiveInt, 1)
    .option('--batch <n>', 'sequences per forward batch', positiveInt, 16)
    .option('-w, --workers <n>', 'threads in embedded mode (default: --chains)', positiveInt)
    .option('--device <device>', 'cpu or cuda (embedded mode)', deviceOption, 'cpu')
    .option('--work-dir <dir>', 'storage for hidden states between layers, shared with the workers (default: next to --out)');
}

export function activationsCommand(program: Command, io: Io): void {
  chainOptions(
    natsOptions(
      program
        .command('activations')
        .description("activation statistics of a model on calibration prompts (AIM's per-channel mean |x| sums), as an Arrow IPC file"),
      false,
    )
      .argument('<checkpoint>', 'model folder')
      .requiredOption('--probes <file>', 'calibration prompts: jsonl of {"prompt": ...}')
      .requiredOption('-o, --out <file>', 'statistics file (.arrow)'),
  )
    .option('--json', 'print one JSON object per event')
    .option('--debug', 'print stack traces')
    .action(async (model: string, flags: ActivationFlags) => {
      io.exitCode = await run(io, flags, async (signal) => {
        const seqs = await calibrationSequences(model, flags.probes);
        const started = performance.now();
        const stats = await withExecutor(flags, flags.chains, (executor) =>
          collectActivations(model, seqs, {
            executor,
            workDir: resolve(flags.workDir ?? dirname(resolve(flags.out))),
            chains: flags.chains,
            batchSize: flags.batch,
            device: flags.device,
            signal,
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
