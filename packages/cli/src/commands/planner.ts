// `tessera planner signals`: the structural similarity signals of experts against their base,
// computed as stats tasks over slices (threads here, or NATS workers with --nats).
import { watchConnected } from '@tessera/protocol';
import { EmbeddedExecutor } from '@tessera/engine';
import {
  type Evaluation,
  type ModelKind,
  type PairScope,
  collectOutcomes,
  compareMultiWay,
  DEFAULT_MANY_PREDICTOR,
  fit,
  leaveOneTaskOut,
  loadCatalog,
  openPredictor,
  readOutcomes,
  DEFAULT_PROBES,
  probeSignals,
  simulateStream,
  structuralStats,
  toDataset,
  writeOutcomes,
  writePredictor,
  writeSignals,
} from '@tessera/planner';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { type NatsFlags, natsConnection, natsOptions } from '../nats-options.js';
import { positiveInt } from '../options.js';
import { commandExecutor, remoteExecutor } from '../remote-executor.js';
import { type Io, run } from '../run.js';
import { plannerMetrics } from '../planner-metrics.js';
import { serveStatus } from '../status-http.js';
import { type GrpcServerFlags, grpcOptionsOf, grpcServerOptions } from '../grpc-server-options.js';
import { startGrpc } from '@tessera/coordinator';
import { plannerService } from '../planner-service.js';
import { UsageError } from '../exit.js';

interface SignalFlags extends NatsFlags {
  out: string;
  workers?: number;
  sliceMb?: number;
  density: number;
  signalLayers?: number;
  cache: boolean;
  probes?: string;
  json?: boolean;
  debug?: boolean;
}

const density = (v: string) => {
  const d = Number(v);
  if (!(d > 0 && d <= 1)) throw new UsageError(`--density must be in (0, 1], got ${v}`);
  return d;
};

const KINDS: ModelKind[] = ['ridge', 'gbt'];
const SCOPES: PairScope[] = ['cross-task', 'same-task', 'steps'];
const SCOPE_NAMES: Record<PairScope, string> = {
  all: 'all pairs',
  'cross-task': 'experts of two tasks',
  'same-task': 'experts of one task',
  steps: 'a running result (two experts merged) and an expert',
};

function evaluationLine(e: Evaluation): string {
  return `${e.kind}: planner ${e.planner.toFixed(3)}, best fixed (${e.fixedCandidate}) ${e.fixed.toFixed(3)}, oracle ${e.oracle.toFixed(3)}, regret ${e.regret.toFixed(3)}, gap closed ${(100 * e.gapClosure).toFixed(0)}% (${e.pairs} held-out pairs)`;
}

export function plannerCommand(program: Command, io: Io): void {
  const planner = program.command('planner').description('the merge planner: similarity signals of experts, outcome data');
  planner
    .command('evaluate')
    .description('leave-one-task-out cross-validation of the predictors on an outcomes file: planner vs best fixed candidate vs oracle')
    .argument('<outcomes>', 'outcomes file (.arrow, from tessera planner collect)')
    .option('--json', 'print JSON')
    .option('--debug', 'print stack traces')
    .action(async (file: string, flags: { json?: boolean; debug?: boolean }) => {
      io.exitCode = await run(io, flags, async () => {
        const data = toDataset(await readOutcomes(file));
        if (data.examples.length === 0) throw new UsageError(`${file}: no pair has an outcome for every candidate`);
        const results = KINDS.map((k) => leaveOneTaskOut(data, k));
        const best = results.reduce((a, b) => (b.planner > a.planner ? b : a));
        // the same cross-validation scored on each kind of held-out pair the outcomes hold
        const scopes = SCOPES.map((s) => leaveOneTaskOut(data, best.kind, s)).filter((e) => e.pairs > 0);
        const stream = simulateStream(data, { newcomer: best.fixedCandidate });
        if (flags.json) io.stdout.write(JSON.stringify({ results, best: best.kind, scopes, stream }) + '\n');
        else {
          io.stdout.write(results.map(evaluationLine).join('\n') + `\nbest: ${best.kind}\n`);
          for (const e of scopes) io.stdout.write(`  ${SCOPE_NAMES[e.scope]}: ${evaluationLine(e).replace(/^\w+: /, '')}\n`);
          const n = stream.newcomer;
          io.stdout.write(
            `bandit over ${stream.steps} simulated requests, cumulative regret: LinUCB ${stream.bandit.toFixed(1)}, uniform random ${stream.random.toFixed(1)}, offline predictor ${stream.offline.toFixed(1)}; ` +
              `${n.candidate} added halfway: chosen in ${n.chosenWhereBest} of the ${n.bestAfterAdded} requests where it was best, and ${n.chosenElsewhere} times elsewhere (of ${n.stepsAfterAdded})\n`,
          );
        }
      });
    });
  planner
    .command('train')
    .description('train a predictor of the normalised score of every candidate from an outcomes file, saved as ONNX')
    .argument('<outcomes>', 'outcomes file (.arrow, from tessera planner collect)')
    .requiredOption('-o, --out <file>', 'predictor (.onnx)')
    .option('--model <kind>', 'ridge, gbt, or best (the one leave-one-task-out cross-validation ranks first)', 'best')
    .option('--debug', 'print stack traces')
    .action(async (file: string, flags: { out: string; model: string; debug?: boolean }) => {
      io.exitCode = await run(io, flags, async () => {
        if (![...KINDS, 'best'].includes(flags.model)) throw new UsageError(`--model must be ridge, gbt or best, got ${flags.model}`);
        const data = toDataset(await readOutcomes(file));
        if (data.examples.length < 2) throw new UsageError(`${file}: too few pairs with an outcome for every candidate (${data.examples.length})`);
        let kind = flags.model as ModelKind | 'best';
        if (kind === 'best') {
          const results = KINDS.map((k) => leaveOneTaskOut(data, k));
          for (const r of results) io.stderr.write(evaluationLine(r) + '\n');
          kind = results.reduce((a, b) => (b.planner > a.planner ? b : a)).kind;
        }
        await writePredictor(flags.out, fit(kind, data.examples), { candidates: data.candidates, features: data.features });
        io.stdout.write(`${flags.out}: ${kind} predictor of ${data.candidates.length} candidates from ${data.examples.length} pairs\n`);
      });
    });
  grpcServerOptions(natsOptions(planner.command('serve').description('serve the gRPC PlannerService (Plan, Signals, ReportOutcome, ListCandidates)'), false))
    .option('--predictor <file>', 'ONNX predictor (default: the one of k-way plans trained on the public zoo)')
    .option('--bandit <file>', 'bandit state file (without --nats; with it, the JetStream KV bucket tessera-planner)', 'tessera-bandit.json')
    .option('-w, --workers <n>', 'worker threads for signals (without --nats)', positiveInt)
    .option('--http <host:port>', 'serve /healthz, /readyz and /metrics (Prometheus) here (port 0: any free port, logged)')
    .option('--debug', 'print stack traces')
    .action(
      async (
        flags: NatsFlags &
          GrpcServerFlags & {
            predictor?: string;
            bandit: string;
            workers?: number;
            http?: string;
            debug?: boolean;
          },
      ) => {
        io.exitCode = await run(io, flags, async (signal) => {
          const remote = flags.nats ? await remoteExecutor(natsConnection(flags)) : undefined;
          const local = remote ? undefined : new EmbeddedExecutor(flags.workers ?? (await import('node:os')).availableParallelism());
          const planner = await plannerService({
            executor: remote?.executor ?? local!,
            ...(flags.predictor ? { predictor: flags.predictor } : {}),
            ...(remote ? { nc: remote.nc } : { banditFile: flags.bandit }),
          });
          const metrics = plannerMetrics();
          const { server, port } = await startGrpc(grpcOptionsOf(flags), undefined, [metrics.instrument(planner.service)]);
          // readiness: serving, and (with NATS) connected, for the signal passes on the workers
          const link = remote ? watchConnected(remote.nc) : undefined;
          let stopping = false;
          const http = flags.http
            ? await serveStatus(
                flags.http,
                () => {
                  const connected = link?.connected() ?? true;
                  return { ready: connected && !stopping, detail: { connected, stopping } };
                },
                metrics.registry,
              )
            : undefined;
          if (http) io.stdout.write(`${JSON.stringify({ event: 'http', port: http.port })}\n`);
          io.stdout.write(`${JSON.stringify({ event: 'ready', port })}\n`);
          await new Promise<void>((res) => signal.addEventListener('abort', () => res(), { once: true }));
          stopping = true;
          await new Promise<void>((res) => server.tryShutdown(() => res()));
          http?.server.close();
          await planner.close();
          await (remote ? remote.close() : local!.close());
        });
      },
    );
  natsOptions(
    planner
      .command('collect')
      .description("merge every pair of a catalog with every candidate and evaluate it (resumable): the planner's training data, as an Arrow IPC file"),
    false,
  )
    .argument('<catalog>', 'catalog YAML: base, eval folder, experts with their tasks')
    .requiredOption('-o, --out <file>', 'outcomes file (.arrow); progress is kept in <file>.progress.jsonl')
    .option('-w, --workers <n>', 'worker threads (default: the number of CPUs)', positiveInt)
    .option('--limit-pairs <n>', 'only the first N pairs of the catalog', positiveInt)
    .option('--work-dir <dir>', 'where candidates are merged (default: next to --out)')
    .option('--json', 'print one JSON object per outcome')
    .option('--debug', 'print stack traces')
    .action(
      async (file: string, flags: NatsFlags & { out: string; workers?: number; limitPairs?: number; workDir?: string; json?: boolean; debug?: boolean }) => {
        io.exitCode = await run(io, flags, async (signal) => {
          const catalog = loadCatalog(file);
          const { executor, close } = await commandExecutor(flags, flags.workers);
          // merges are written next to the outcomes unless told otherwise; that folder goes at the end
          const workDir = resolve(flags.workDir ?? join(dirname(resolve(flags.out)), `.${Date.now().toString(36)}.collect`));
          try {
            const started = performance.now();
            const rows = await collectOutcomes(catalog, {
              executor,
              signal,
              out: resolve(flags.out),
              workDir,
              ...(flags.limitPairs !== undefined ? { limitPairs: flags.limitPairs } : {}),
              onRow: (r, done, total) => {
                if (flags.json) io.stdout.write(JSON.stringify({ type: 'outcome', done, total, ...r, features: undefined }) + '\n');
                else io.stderr.write(`\r${done}/${total} ${r.a}+${r.b} ${r.candidate}: ${r.score.toFixed(3)}   `);
              },
            });
            await writeOutcomes(flags.out, rows);
            if (!flags.workDir) await rm(workDir, { recursive: true, force: true });
            io.stderr.write(`\n${flags.out}: ${rows.length} outcomes in ${((performance.now() - started) / 1000).toFixed(0)}s\n`);
          } finally {
            await close();
          }
        });
      },
    );
  natsOptions(
    planner
      .command('compare')
      .description(
        "the planned merge of a catalog's experts against merging all of them with each fixed candidate, by evaluated accuracy on their tasks (one merge and evaluation per candidate)",
      ),
    false,
  )
    .argument('<catalog>', 'catalog YAML: base, eval folder, experts with their tasks')
    .option('--experts <names>', 'only these experts of the catalog (comma-separated names)')
    .option('--predictor <file>', 'ONNX predictor (default: the one of k-way plans trained on the public zoo)')
    .option('-w, --workers <n>', 'worker threads (default: the number of CPUs)', positiveInt)
    .option('--work-dir <dir>', 'where merges are written and removed again (default: a temporary folder)')
    .option('--json', 'print the plan and the rows as JSON')
    .option('--debug', 'print stack traces')
    .action(
      async (
        file: string,
        flags: NatsFlags & { experts?: string; predictor?: string; workers?: number; workDir?: string; json?: boolean; debug?: boolean },
      ) => {
        io.exitCode = await run(io, flags, async (signal) => {
          const catalog = loadCatalog(file);
          const names = flags.experts?.split(',').map((n) => n.trim());
          const unknown = names?.find((n) => !catalog.experts.some((e) => e.name === n));
          if (unknown !== undefined) throw new UsageError(`--experts: ${file} has no expert named ${JSON.stringify(unknown)}`);
          const experts = names ? catalog.experts.filter((e) => names.includes(e.name)) : catalog.experts;
          if (experts.length < 3) throw new UsageError(`compare takes three or more experts, got ${experts.length}`);
          const predictor = await openPredictor(flags.predictor ?? DEFAULT_MANY_PREDICTOR);
          const { executor, close } = await commandExecutor(flags, flags.workers);
          const pct = (x: number) => (100 * x).toFixed(1).padStart(6);
          try {
            const started = performance.now();
            const result = await compareMultiWay(catalog, experts, {
              executor,
              predictor,
              signal,
              workDir: resolve(flags.workDir ?? join(tmpdir(), `tessera-compare-${process.pid}`)),
              onRow: (r) => {
                if (!flags.json) io.stderr.write(`${r.name}: ${pct(r.mean)}%\n`);
              },
            });
            if (flags.json) {
              io.stdout.write(`${JSON.stringify(result)}\n`);
              return;
            }
            const fixed = result.rows.filter((r) => r.name !== 'base' && r.name !== 'plan');
            const best = fixed.reduce((x, y) => (y.mean > x.mean ? y : x));
            const plan = result.rows.find((r) => r.name === 'plan')!;
            io.stdout.write(`plan: ${result.plan.recipe.split('\n')[0]!.replace(/^# planned by tessera: /, '')}\n`);
            io.stdout.write(`${'merge'.padEnd(22)}${result.tasks.map((t) => t.padStart(7)).join('')}   mean\n`);
            for (const r of result.rows) io.stdout.write(`${r.name.padEnd(22)}${r.accuracy.map((a) => ` ${pct(a)}`).join('')} ${pct(r.mean)}\n`);
            io.stdout.write(
              `${experts.length} experts: plan ${pct(plan.mean).trim()}% mean accuracy, best fixed merge of all (${best.name}) ${pct(best.mean).trim()}%: ${(plan.mean / best.mean).toFixed(2)}x (${((performance.now() - started) / 1000).toFixed(0)} s)\n`,
            );
          } finally {
            await close();
          }
        });
      },
    );
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
    .option('--signal-layers <n>', 'statistics of this many evenly spaced decoder layers only (default: every tensor)', positiveInt)
    .option('--no-cache', 'compute the statistics even when the cache ($TESSERA_CACHE_DIR/signals) has them for these models')
    .option(
      '--probes <file>',
      'also the functional signals (next-token KL, top-1 agreement, hidden-state cosine and CKA, attention cosine) on these prompts (jsonl of {"prompt": ...}; `default`: the generic set shipped with Tessera)',
    )
    .option('--json', 'print the overall signals of every pair as JSON')
    .option('--debug', 'print stack traces')
    .action(async (base: string, models: string[], flags: SignalFlags) => {
      io.exitCode = await run(io, flags, async (signal) => {
        if (models.length < 2) throw new UsageError('signals need at least two experts');
        const { executor, close } = await commandExecutor(flags, flags.workers);
        try {
          const stats = await structuralStats(base, models, {
            executor,
            signal,
            density: flags.density,
            cache: flags.cache,
            ...(flags.sliceMb !== undefined ? { sliceBytes: flags.sliceMb * 2 ** 20 } : {}),
            ...(flags.signalLayers !== undefined ? { layers: flags.signalLayers } : {}),
          });
          const rows = await writeSignals(flags.out, stats);
          const global = rows.filter((r) => r.scope === 'global');
          const functional = flags.probes
            ? await probeSignals(models, flags.probes === 'default' ? DEFAULT_PROBES : flags.probes, { executor, workDir: dirname(resolve(flags.out)), signal })
            : undefined;
          if (flags.json) io.stdout.write(JSON.stringify({ out: flags.out, models, pairs: global, ...(functional ? { functional } : {}) }) + '\n');
          else {
            for (const r of global)
              io.stdout.write(
                `${models[r.a]} × ${models[r.b]}: cos ${r.cos.toFixed(4)}, norms ${r.normA.toPrecision(4)} / ${r.normB.toPrecision(4)}, sign agreement ${r.signAgreement.toFixed(4)}, TIES conflicts ${r.tiesConflict.toFixed(4)}\n`,
              );
            for (const f of functional ?? [])
              io.stdout.write(
                `${models[f.a]} × ${models[f.b]}: next-token KL ${f.signals.klAB.mean.toFixed(4)} / ${f.signals.klBA.mean.toFixed(4)}, top-1 agreement ${f.signals.top1Agreement.toFixed(3)}, last-layer hidden cosine ${f.signals.hiddenCos.at(-1)?.toFixed(4)}, CKA ${f.signals.cka.at(-1)?.toFixed(4)}\n`,
              );
          }
        } finally {
          await close();
        }
      });
    });
}
