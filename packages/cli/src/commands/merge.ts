import { type JobEvent, mergeRecipeFile } from '@tessera/engine';
import type { Command } from 'commander';
import { byteSize, nonNegativeInt, positiveInt, positiveNumber } from '../options.js';
import { humanReporter, jsonReporter } from '../progress.js';
import { natsConnection, natsOptions, type NatsFlags } from '../nats-options.js';
import { remoteExecutor } from '../remote-executor.js';
import { type Io, run } from '../run.js';

interface MergeFlags extends NatsFlags {
  out: string;
  workers?: number;
  sliceMb?: number;
  memoryMb?: number;
  seed?: number;
  shardSize?: number;
  overwrite?: boolean;
  fsync: boolean;
  strict?: boolean;
  skipMismatched?: boolean;
  json?: boolean;
  debug?: boolean;
}

export function mergeCommand(program: Command, io: Io): void {
  natsOptions(program.command('merge').description('merge the models of a recipe: in this process (embedded mode), or on remote workers with --nats'), false)
    .argument('<recipe>', 'mergekit-compatible YAML recipe')
    .requiredOption('-o, --out <dir>', 'output directory (created; must not exist unless --overwrite)')
    .option('-w, --workers <n>', 'worker threads (default: the number of CPUs)', positiveInt)
    .option('--slice-mb <m>', "size of one input's slice in MiB (default: from --memory-mb)", positiveNumber)
    .option('--memory-mb <m>', 'memory budget per worker thread in MiB', positiveNumber, 512)
    .option('--seed <s>', "seed of random masks (overrides the recipe's seed)", nonNegativeInt)
    .option('--shard-size <size>', 'largest output file, e.g. 5GB or 2GiB', byteSize)
    .option('--overwrite', 'replace an existing output directory')
    .option('--no-fsync', 'do not flush the output to disk before publishing it')
    .option('--strict', 'treat unknown recipe keys as errors')
    .option('--skip-mismatched', 'task-vector operators leave out a model whose tensor has another shape (a warning), as mergekit does')
    .option('--json', 'print one JSON object per event')
    .option('--debug', 'print stack traces')
    .action(async (recipe: string, flags: MergeFlags) => {
      const report: (e: JobEvent) => void = flags.json ? jsonReporter(io.stdout) : humanReporter(io.stderr, io.stdout);
      io.exitCode = await run(io, flags, async (signal) => {
        const remote = flags.nats ? await remoteExecutor(natsConnection(flags)) : undefined;
        try {
          await mergeRecipeFile(recipe, {
            ...(remote ? { executor: remote.executor } : {}),
            out: flags.out,
            ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
            ...(flags.sliceMb !== undefined ? { sliceBytes: flags.sliceMb * 2 ** 20 } : {}),
            ...(flags.memoryMb !== undefined ? { memoryBytes: flags.memoryMb * 2 ** 20 } : {}),
            ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
            ...(flags.shardSize !== undefined ? { shardBytes: flags.shardSize } : {}),
            overwrite: flags.overwrite ?? false,
            fsync: flags.fsync,
            strict: flags.strict ?? false,
            skipMismatched: flags.skipMismatched ?? false,
            onEvent: report,
            signal,
          });
        } finally {
          await remote?.close();
        }
      });
    });
}
