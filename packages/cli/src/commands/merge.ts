import { type JobEvent, mergeOptionsOf, mergeRecipeFile } from '@tessera/engine';
import type { Command } from 'commander';
import { jobOptionFlags, jobOptionsOf } from '../job-options.js';
import { type NatsFlags, natsConnection, natsOptions } from '../nats-options.js';
import { positiveInt } from '../options.js';
import { humanReporter, jsonReporter } from '../progress.js';
import { type Io, run } from '../run.js';

interface MergeFlags extends NatsFlags {
  out: string;
  workers?: number;
  json?: boolean;
  debug?: boolean;
}

export function mergeCommand(program: Command, io: Io): void {
  const cmd = natsOptions(
    program.command('merge').description('merge the models of a recipe: in this process (embedded mode), or on remote workers with --nats'),
    false,
  )
    .argument('<recipe>', 'mergekit-compatible YAML recipe')
    .requiredOption('-o, --out <dir>', 'output directory (created; must not exist unless --overwrite)')
    .option('-w, --workers <n>', 'worker threads (default: the number of CPUs)', positiveInt);
  jobOptionFlags(cmd)
    .option('--json', 'print one JSON object per event')
    .option('--debug', 'print stack traces')
    .action(async (recipe: string, flags: MergeFlags & Record<string, unknown>) => {
      const report: (e: JobEvent) => void = flags.json ? jsonReporter(io.stdout) : humanReporter(io.stderr, io.stdout);
      io.exitCode = await run(io, flags, async (signal) => {
        // the NATS client loads only for remote runs (start-up time of embedded merges)
        const remote = flags.nats ? await (await import('../remote-executor.js')).remoteExecutor(natsConnection(flags)) : undefined;
        try {
          await mergeRecipeFile(recipe, {
            ...(remote ? { executor: remote.executor } : {}),
            out: flags.out,
            ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
            ...mergeOptionsOf(jobOptionsOf(flags)),
            onEvent: report,
            signal,
          });
        } finally {
          await remote?.close();
        }
      });
    });
}
