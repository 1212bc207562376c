// `tessera planner signals`: the structural similarity signals of experts against their base,
// computed as stats tasks over slices (threads here, or NATS workers with --nats).
import { EmbeddedExecutor, type Executor } from '@tessera/engine';
import { structuralStats, writeSignals } from '@tessera/planner';
import type { Command } from 'commander';
import { type NatsFlags, natsConnection, natsOptions } from '../nats-options.js';
import { positiveInt } from '../options.js';
import { remoteExecutor } from '../remote-executor.js';
import { type Io, run } from '../run.js';
import { UsageError } from '../exit.js';

interface SignalFlags extends NatsFlags {
  out: string;
  workers?: number;
  sliceMb?: number;
  density: number;
  json?: boolean;
  debug?: boolean;
}

const density = (v: string) => {
  const d = Number(v);
  if (!(d > 0 && d <= 1)) throw new UsageError(`--density must be in (0, 1], got ${v}`);
  return d;
};

export function plannerCommand(program: Command, io: Io): void {
  const planner = program.command('planner').description('the merge planner: similarity signals of experts');
  natsOptions(
    planner
      .command('signals')
      .description(
        'structural signals of every pair of experts (task-vector and weight cosines, norms, sign agreement, TIES conflicts), per tensor, per layer and overall, as an Arrow IPC file',
      ),
    false,
  )
    .argument('<base>', 'the base model the experts were fine-tuned from')
    .argument('<models...>', 'two or more experts')
    .requiredOption('-o, --out <file>', 'signals file (.arrow)')
    .option('-w, --workers <n>', 'worker threads (default: the number of CPUs)', positiveInt)
    .option('--slice-mb <m>', "size of one input's slice in MiB", positiveInt)
    .option('--density <d>', 'share of each task vector TIES keeps, for the conflict signal', density, 0.2)
    .option('--json', 'print the overall signals of every pair as JSON')
    .option('--debug', 'print stack traces')
    .action(async (base: string, models: string[], flags: SignalFlags) => {
      io.exitCode = await run(io, flags, async (signal) => {
        if (models.length < 2) throw new UsageError('signals need at least two experts');
        const remote = flags.nats ? await remoteExecutor(natsConnection(flags)) : undefined;
        const executor: Executor = remote?.executor ?? new EmbeddedExecutor(flags.workers ?? (await import('node:os')).availableParallelism());
        try {
          const stats = await structuralStats(base, models, {
            executor,
            signal,
            density: flags.density,
            ...(flags.sliceMb !== undefined ? { sliceBytes: flags.sliceMb * 2 ** 20 } : {}),
          });
          const rows = await writeSignals(flags.out, stats);
          const global = rows.filter((r) => r.scope === 'global');
          if (flags.json) io.stdout.write(JSON.stringify({ out: flags.out, models, pairs: global }) + '\n');
          else
            for (const r of global)
              io.stdout.write(
                `${models[r.a]} × ${models[r.b]}: cos ${r.cos.toFixed(4)}, norms ${r.normA.toPrecision(4)} / ${r.normB.toPrecision(4)}, sign agreement ${r.signAgreement.toFixed(4)}, TIES conflicts ${r.tiesConflict.toFixed(4)}\n`,
              );
        } finally {
          await (remote ? remote.close() : executor.close());
        }
      });
    });
}
