// `tessera plan BASE A B`: the best merge of two experts as the planner predicts it, written as
// an ordinary recipe (runnable by tessera merge as it is).
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DEFAULT_MANY_PREDICTOR, DEFAULT_PREDICTOR, DEFAULT_PROBES, objectiveWeights, openPredictor, planMany, planPair } from '@tessera/planner';
import type { Command } from 'commander';
import { UsageError } from '../exit.js';
import { type NatsFlags, natsOptions } from '../nats-options.js';
import { positiveInt } from '../options.js';
import { type Io, run } from '../run.js';
import { commandExecutor } from '../remote-executor.js';

export function planCommand(program: Command, io: Io): void {
  natsOptions(
    program
      .command('plan')
      .description(
        'predict the best merge of experts (for two: operator and parameters, or keeping one; for more: also the subset and the order) and write its recipe',
      ),
    false,
  )
    .argument('<base>', 'the base model the experts were fine-tuned from')
    .argument('<models...>', 'two or more experts')
    .option('-o, --out <file>', 'write the recipe here (default: print it)')
    .option('--objective <file>', 'what to keep: `weights:` mapping experts (path or folder name) to how much their ability counts (default 1 each)')
    .option('--predictor <file>', 'an ONNX predictor (tessera planner train; default: the ones trained on the public zoo, for pairs and for more experts)')
    .option('-w, --workers <n>', 'worker threads for the signals (default: the number of CPUs)', positiveInt)
    .option(
      '--probes <file>',
      'prompts for the functional signals of two experts (jsonl of {"prompt": ...}; `default`: the generic set shipped), in --json and for predictors that read them (default: computed only for those, on the generic set)',
    )
    .option(
      '--signal-layers <n>',
      'structural signals from this many evenly spaced decoder layers: an estimate for a fraction of the reads (default: every tensor)',
      positiveInt,
    )
    .option('--json', 'print the plan as JSON (candidates with their predicted scores, features, recipe)')
    .option('--debug', 'print stack traces')
    .action(
      async (
        base: string,
        models: string[],
        flags: NatsFlags & {
          out?: string;
          objective?: string;
          probes?: string;
          predictor?: string;
          workers?: number;
          signalLayers?: number;
          json?: boolean;
          debug?: boolean;
        },
      ) => {
        io.exitCode = await run(io, flags, async (signal) => {
          if (models.length < 2) throw new UsageError(`plan takes two or more experts, got ${models.length}`);
          if (flags.probes !== undefined && models.length > 2) throw new UsageError('--probes: functional signals are for plans of two experts');
          // the recipe names the models by absolute paths: it runs from any folder
          const where = (m: string) => (/^[a-z]+:\/\//.test(m) ? m : resolve(m));
          base = where(base);
          models = models.map(where);
          const predictor = await openPredictor(flags.predictor ?? (models.length === 2 ? DEFAULT_PREDICTOR : DEFAULT_MANY_PREDICTOR));
          const { executor, close } = await commandExecutor(flags, flags.workers);
          try {
            const weights = flags.objective ? objectiveWeights(flags.objective, models) : undefined;
            const layers = flags.signalLayers !== undefined ? { layers: flags.signalLayers } : {};
            const plan =
              models.length === 2
                ? await planPair(base, models[0]!, models[1]!, {
                    executor,
                    predictor,
                    signal,
                    ...layers,
                    ...(flags.probes !== undefined ? { probes: flags.probes === 'default' ? DEFAULT_PROBES : resolve(flags.probes) } : {}),
                    ...(weights ? { weights: [weights[0]!, weights[1]!] as [number, number] } : {}),
                  })
                : await planMany(base, models, { executor, predictor, signal, ...layers, ...(weights ? { weights } : {}) });
            if (flags.out) await writeFile(flags.out, plan.recipe);
            if (flags.json) io.stdout.write(JSON.stringify(plan) + '\n');
            else if (!flags.out) io.stdout.write(plan.recipe);
            else io.stdout.write(`${flags.out}: ${plan.recipe.split('\n')[0]!.replace(/^# planned by tessera: /, '')}\n`);
          } finally {
            await close();
            await predictor.close();
          }
        });
      },
    );
}
