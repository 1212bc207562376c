import { resolve, dirname } from 'node:path';
import { calibrationSequences, collectProbes } from '@tessera/engine';
import { writeProbes } from '@tessera/model';
import type { Command } from 'commander';
import { natsOptions, type NatsFlags } from '../nats-options.js';
import { deviceOption, positiveInt } from '../options.js';
import { type Io, run } from '../run.js';
import { withExecutor } from './activations.js';

export function probeCommand(program: Command, io: Io): void {
  natsOptions(program
    .command('probe')
    .description('probe representations of a model (per-layer mean hidden states, last-token attention per head, next-token distributions), as an Arrow IPC file'), false)
    .argument('<checkpoint>', 'model folder')
    .requiredOption('--probes <file>', 'probe prompts: jsonl of {"prompt": ...}')
    .requiredOption('-o, --out <file>', 'representations file (.arrow)')
    .option('--chains <n>', 'chains of sequences run in parallel', positiveInt, 1)
    .option('--batch <n>', 'sequences per forward batch', positiveInt, 16)
    .option('-w, --workers <n>', 'threads in embedded mode (default: --chains)', positiveInt)
    .option('--device <device>', 'cpu or cuda (embedded mode)', deviceOption, 'cpu')
    .option('--work-dir <dir>', 'storage for hidden states between layers, shared with the workers (default: next to --out)')
    .option('--debug', 'print stack traces')
    .action(async (model: string, flags: NatsFlags & { probes: string; out: string; chains: number; batch: number; workers?: number; device: 'cpu' | 'cuda'; workDir?: string; debug?: boolean }) => {
      io.exitCode = await run(io, flags, async (signal) => {
        const seqs = await calibrationSequences(model, flags.probes);
        const rows = await withExecutor(flags, flags.chains, (executor) => collectProbes(model, seqs, {
          executor, workDir: resolve(flags.workDir ?? dirname(resolve(flags.out))), chains: flags.chains, batchSize: flags.batch, device: flags.device, signal,
        }));
        await writeProbes(flags.out, rows, { model, probes: flags.probes });
        io.stdout.write(`${flags.out}: ${rows.length} rows for ${seqs.length} probes\n`);
      });
    });
}
