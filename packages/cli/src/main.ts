import { TESSERA_VERSION } from '@tessera/engine';
import { Command, CommanderError } from 'commander';
import { activationsCommand } from './commands/activations.js';
import { aimCommand } from './commands/aim.js';
import { probeCommand } from './commands/probe.js';
import { evalCommand } from './commands/eval.js';
import { inspectCommand } from './commands/inspect.js';
import { mergeCommand } from './commands/merge.js';
import { methodsCommand } from './commands/methods.js';
import { plannerCommand } from './commands/planner.js';
import { planCommand } from './commands/plan.js';
import { verifyCommand } from './commands/verify.js';
import { cancelCommand, statusCommand, submitCommand } from './commands/remote.js';
import { coordinatorCommand, workerCommand } from './commands/services.js';
import { EXIT_BAD_INPUT, EXIT_OK } from './exit.js';
import type { Io } from './run.js';

/** Runs the CLI and returns the exit code. */
export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr, exitCode: EXIT_OK }): Promise<number> {
  const program = new Command('tessera')
    .description('Merge large language model checkpoints: mergekit recipes, deterministic, any scale')
    .version(TESSERA_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  mergeCommand(program, io);
  inspectCommand(program, io);
  verifyCommand(program, io);
  methodsCommand(program, io);
  evalCommand(program, io);
  activationsCommand(program, io);
  aimCommand(program, io);
  probeCommand(program, io);
  workerCommand(program, io);
  coordinatorCommand(program, io);
  submitCommand(program, io);
  statusCommand(program, io);
  cancelCommand(program, io);
  plannerCommand(program, io);
  planCommand(program, io);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
    throw e;
  }
  return io.exitCode;
}
