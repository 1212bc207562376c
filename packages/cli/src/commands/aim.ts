import { applyAimToCheckpoint } from '@tessera/engine';
import { type Command, InvalidArgumentError } from 'commander';
import { natsConnection, natsOptions, type NatsFlags } from '../nats-options.js';
import { positiveInt } from '../options.js';
import { humanReporter, jsonReporter } from '../progress.js';
import { remoteExecutor } from '../remote-executor.js';
import { type Io, run } from '../run.js';

function omega(v: string): number {
  const x = Number(v);
  if (!(x >= 0 && x <= 1)) throw new InvalidArgumentError(`expected a number in [0, 1], got ${v}`);
  return x;
}

export function aimCommand(program: Command, io: Io): void {
  natsOptions(program.command('aim').description('apply activation-informed merging (AIM) to a model merged elsewhere'), false)
    .argument('<base>', 'the base model the merge started from')
    .argument('<merged>', 'the merged model')
    .requiredOption('--stats <file>', 'activation statistics of the base (.arrow, from tessera activations)')
    .requiredOption('-o, --out <dir>', 'output directory')
    .option('--omega <w>', 'relaxation: 1 keeps the merge, 0 fully reverts the most salient channel', omega, 0.4)
    .option('-w, --workers <n>', 'worker threads', positiveInt)
    .option('--overwrite', 'replace an existing output directory')
    .option('--no-fsync', 'do not flush the output to disk before publishing it')
    .option('--json', 'print one JSON object per event')
    .option('--debug', 'print stack traces')
    .action(
      async (
        base: string,
        merged: string,
        flags: NatsFlags & {
          stats: string;
          out: string;
          omega: number;
          workers?: number;
          overwrite?: boolean;
          fsync: boolean;
          json?: boolean;
          debug?: boolean;
        },
      ) => {
        const report = flags.json ? jsonReporter(io.stdout) : humanReporter(io.stderr, io.stdout);
        io.exitCode = await run(io, flags, async (signal) => {
          const remote = flags.nats ? await remoteExecutor(natsConnection(flags)) : undefined;
          try {
            const r = await applyAimToCheckpoint(base, merged, flags.stats, {
              out: flags.out,
              omega: flags.omega,
              overwrite: flags.overwrite ?? false,
              fsync: flags.fsync,
              signal,
              onEvent: report,
              ...(remote ? { executor: remote.executor } : {}),
              ...(flags.workers ? { workers: flags.workers } : {}),
            });
            if (flags.json) io.stdout.write(JSON.stringify({ type: 'done', ...r }) + '\n');
            else io.stdout.write(`AIM (omega ${flags.omega}) on ${r.tensors} tensors into ${r.out} in ${r.seconds.toFixed(1)}s\n`);
          } finally {
            await remote?.close();
          }
        });
      },
    );
}
