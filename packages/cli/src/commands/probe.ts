import { resolve, dirname } from 'node:path';
import { calibrationSequences, collectProbes } from '@tessera/engine';
import type { Command } from 'commander';
import { natsOptions, type NatsFlags } from '../nats-options.js';
import { type Io, run } from '../run.js';
import { chainOptions, withExecutor } from './activations.js';

export function probeCommand(program: Command, io: Io): void {
  chainOptions(
    natsOptions(
      program
        .command('probe')
        .description(
          'probe representations of a model (per-layer mean hidden states, last-token attention per head, next-token distributions), as an Arrow IPC file',
        ),
      false,
    )
      .argument('<checkpoint>', 'model folder')
      .requiredOption('--probes <file>', 'probe prompts: jsonl of {"prompt": ...}')
      .requiredOption('-o, --out <file>', 'representations file (.arrow)'),
  )
    .option('--debug', 'print stack traces')
    .action(
      async (
        model: string,
        flags: NatsFlags & {
          probes: string;
          out: string;
          chains: number;
          batch: number;
          workers?: number;
          device: 'cpu' | 'cuda';
          workDir?: string;
          debug?: boolean;
        },
      ) => {
        io.exitCode = await run(io, flags, async (signal) => {
          const seqs = await calibrationSequences(model, flags.probes);
          const rows = await withExecutor(flags, flags.chains, (executor) =>
            collectProbes(model, seqs, {
              executor,
              workDir: resolve(flags.workDir ?? dirname(resolve(flags.out))),
              chains: flags.chains,
              batchSize: flags.batch,
              device: flags.device,
              signal,
            }),
          );
          await (await import('@tessera/model')).writeProbes(flags.out, rows, { model, probes: flags.probes });
          io.stdout.write(`${flags.out}: ${rows.length} rows for ${seqs.length} probes\n`);
        });
      },
    );
}
