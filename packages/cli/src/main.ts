import { Command, CommanderError } from 'commander';
import { TESSERA_VERSION } from '@tessera/engine/version';
import { EXIT_BAD_INPUT, EXIT_OK } from './exit.js';
import type { Io } from './run.js';

type Register = (program: Command, io: Io) => void;

/** Every command, by the module that defines it (in the order help lists them). */
const COMMANDS: { names: string[]; load: () => Promise<Register[]> }[] = [
  { names: ['merge'], load: async () => [(await import('./commands/merge.js')).mergeCommand] },
  { names: ['inspect'], load: async () => [(await import('./commands/inspect.js')).inspectCommand] },
  { names: ['verify'], load: async () => [(await import('./commands/verify.js')).verifyCommand] },
  { names: ['methods'], load: async () => [(await import('./commands/methods.js')).methodsCommand] },
  { names: ['eval'], load: async () => [(await import('./commands/eval.js')).evalCommand] },
  { names: ['activations'], load: async () => [(await import('./commands/activations.js')).activationsCommand] },
  { names: ['aim'], load: async () => [(await import('./commands/aim.js')).aimCommand] },
  { names: ['probe'], load: async () => [(await import('./commands/probe.js')).probeCommand] },
  {
    names: ['worker', 'coordinator'],
    load: async () => {
      const m = await import('./commands/services.js');
      return [m.workerCommand, m.coordinatorCommand];
    },
  },
  {
    names: ['submit', 'status', 'cancel'],
    load: async () => {
      const m = await import('./commands/remote.js');
      return [m.submitCommand, m.statusCommand, m.cancelCommand];
    },
  },
  { names: ['planner'], load: async () => [(await import('./commands/planner.js')).plannerCommand] },
  { names: ['plan'], load: async () => [(await import('./commands/plan.js')).planCommand] },
];

/** Runs the CLI and returns the exit code. */
export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr, exitCode: EXIT_OK }): Promise<number> {
  const program = new Command('tessera')
    .description('Merge large language model checkpoints: mergekit recipes, deterministic, any scale')
    .version(TESSERA_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  // only the command asked for is loaded (start-up time); the version none; help and unknown names all
  const first = argv[2] ?? '';
  const named = COMMANDS.find((c) => c.names.includes(first));
  const load = first === '--version' || first === '-V' ? [] : named ? [named] : COMMANDS;
  for (const c of load) for (const register of await c.load()) register(program, io);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
    throw e;
  }
  return io.exitCode;
}
