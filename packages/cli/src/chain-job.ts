// What `tessera activations` and `tessera probe` share: jobs that run a model over chains of
// sequences, layer by layer, on threads of this process or, with --nats, on remote workers.
import { dirname, resolve } from 'node:path';
import type { ActivationOptions } from '@tessera/engine';
import type { Command } from 'commander';
import { type NatsFlags, natsOptions } from './nats-options.js';
import { deviceOption, positiveInt } from './options.js';
import { commandExecutor } from './remote-executor.js';

export interface ChainFlags extends NatsFlags {
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

/** A chain-job command: the model, the prompts, the output file and the chain options. */
export function chainCommand(program: Command, name: string, description: string, prompts: string, output: string): Command {
  return natsOptions(program.command(name).description(description), false)
    .argument('<checkpoint>', 'model folder')
    .requiredOption('--probes <file>', prompts)
    .requiredOption('-o, --out <file>', output)
    .option('--chains <n>', 'chains of sequences run in parallel', positiveInt, 1)
    .option('--batch <n>', 'sequences per forward batch', positiveInt, 16)
    .option('-w, --workers <n>', 'threads in embedded mode (default: --chains)', positiveInt)
    .option('--device <device>', 'cpu or cuda (embedded mode)', deviceOption, 'cpu')
    .option('--work-dir <dir>', 'storage for hidden states between layers, shared with the workers (default: next to --out)')
    .option('--debug', 'print stack traces');
}

/** Runs `body` with the job's executor and options (closed afterwards). */
export async function withChainJob<T>(flags: ChainFlags, signal: AbortSignal, body: (opts: ActivationOptions) => Promise<T>): Promise<T> {
  const { executor, close } = await commandExecutor(flags, flags.workers ?? flags.chains);
  try {
    return await body({
      executor,
      workDir: resolve(flags.workDir ?? dirname(resolve(flags.out))),
      chains: flags.chains,
      batchSize: flags.batch,
      device: flags.device,
      signal,
    });
  } finally {
    await close();
  }
}
