import { calibrationSequences, collectProbes } from '@tessera/engine';
import type { Command } from 'commander';
import { type ChainFlags, chainCommand, withChainJob } from '../chain-job.js';
import { type Io, run } from '../run.js';

export function probeCommand(program: Command, io: Io): void {
  chainCommand(
    program,
    'probe',
    'probe representations of a model (per-layer mean hidden states, last-token attention per head, next-token distributions), as an Arrow IPC file',
    'probe prompts: jsonl of {"prompt": ...}',
    'representations file (.arrow)',
  ).action(async (model: string, flags: ChainFlags) => {
    io.exitCode = await run(io, flags, async (signal) => {
      const seqs = await calibrationSequences(model, flags.probes);
      const rows = await withChainJob(flags, signal, (opts) => collectProbes(model, seqs, opts));
      await (await import('@tessera/model')).writeProbes(flags.out, rows, { model, probes: flags.probes });
      io.stdout.write(`${flags.out}: ${rows.length} rows for ${seqs.length} probes\n`);
    });
  });
}
