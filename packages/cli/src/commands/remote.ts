// `tessera submit` and `tessera status`: a coordinator's MergeService from the command line.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { JobEventMsg, JobMsg, WorkerMsg } from '@tessera/protocol';
import { ERROR_KINDS, type ErrorKind, TesseraError } from '@tessera/tensor';
import type { Command } from 'commander';
import { jobOptionsToWire } from '@tessera/engine';
import { jobOptionFlags, jobOptionsOf } from '../job-options.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../exit.js';
import { duration, gb, table } from '../format.js';
import { type ClientFlags, type MergeClient, mergeClient, plannerCall } from '../grpc-client.js';
import { type Io, run } from '../run.js';

function clientOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--server <host:port>', "the coordinator's gRPC address")
    .option('--token <token>', 'bearer token (or env TESSERA_TOKEN)')
    .option('--tls-ca <file>', 'connect with TLS, trusting this CA')
    .option('--json', 'print JSON')
    .option('--debug', 'print stack traces');
}

/** A gRPC error answered by the coordinator, with the kind its status stands for (ERROR_KINDS). */
class RemoteCallError extends TesseraError {
  override readonly name = 'RemoteCallError';
  constructor(
    message: string,
    readonly kind: ErrorKind,
  ) {
    super(message);
  }
}

function remoteError(e: unknown): Error {
  const code = (e as { code?: number }).code;
  const details = (e as { details?: string }).details ?? (e instanceof Error ? e.message : String(e));
  const kind = (Object.keys(ERROR_KINDS) as ErrorKind[]).find((k) => grpcStatus[ERROR_KINDS[k].grpc] === code);
  if (kind) return new RemoteCallError(details, kind);
  if (code === grpcStatus.NOT_FOUND || code === grpcStatus.UNAUTHENTICATED) return new UsageError(details);
  return new Error(details);
}

export function submitCommand(program: Command, io: Io): void {
  const cmd = clientOptions(program.command('submit').description('submit a merge to a coordinator (a recipe, or with --plan the experts to plan a merge of)'))
    .argument('<recipe>', 'recipe file (paths in it are resolved from its folder, as the coordinator sees them); with --plan, the base model')
    .argument('[models...]', 'with --plan: the experts')
    .requiredOption('-o, --out <dir>', 'output folder (shared storage)')
    .option('--plan', "plan the merge first (the coordinator's PlannerService), then submit the planned recipe")
    .option('--watch', 'follow the job until it ends');
  jobOptionFlags(cmd).action(
    async (
      recipe: string,
      models: string[],
      flags: ClientFlags & { out: string; plan?: boolean; watch?: boolean; json?: boolean; debug?: boolean } & Record<string, unknown>,
    ) => {
      io.exitCode = await run(io, flags, async () => {
        let text: string;
        let recipeDir = dirname(resolve(recipe));
        if (flags.plan) {
          if (models.length < 2) throw new UsageError(`--plan needs a base and two or more experts, got ${models.length} expert(s)`);
          const where = (m: string) => (/^[a-z]+:\/\//.test(m) ? m : resolve(m));
          const plan = await plannerCall<{ recipe: string }>(flags, 'Plan', { base: where(recipe), models: models.map(where) }).catch((e: unknown) => {
            throw remoteError(e);
          });
          text = plan.recipe;
          recipeDir = process.cwd();
          io.stderr.write(`${text.split('\n')[0]}\n`);
        } else {
          if (models.length > 0) throw new UsageError(`submit takes one recipe (or --plan with a base and experts), got ${models.length + 1} arguments`);
          try {
            text = readFileSync(recipe, 'utf8');
          } catch {
            throw new UsageError(`${recipe}: cannot read the recipe`);
          }
        }
        const client = mergeClient(flags);
        try {
          const res = await client
            .call<{ job_id: string; warnings: string[] }>('Submit', {
              recipe: text,
              output: resolve(flags.out),
              recipe_dir: recipeDir,
              options: jobOptionsToWire(jobOptionsOf(flags)),
            })
            .catch((e: unknown) => {
              throw remoteError(e);
            });
          for (const w of res.warnings) io.stderr.write(`warning: ${w}\n`);
          if (flags.json) io.stdout.write(JSON.stringify({ type: 'submitted', job_id: res.job_id }) + '\n');
          else io.stdout.write(`job ${res.job_id}\n`);
          if (!flags.watch) return EXIT_OK;
          return await follow(client, res.job_id, io, flags.json ?? false);
        } finally {
          client.close();
        }
      });
    },
  );
}

/** Streams a job's events; returns the exit code of its end state. */
async function follow(client: MergeClient, jobId: string, io: Io, json: boolean): Promise<number> {
  const tty = io.stderr.isTTY === true;
  let last: JobEventMsg | undefined;
  await new Promise<void>((resolve, reject) => {
    const s = client.watch(jobId);
    s.on('data', (e: JobEventMsg) => {
      last = e;
      if (json) {
        io.stdout.write(JSON.stringify(e) + '\n');
        return;
      }
      if (e.type === 'progress' && tty) {
        const frac = e.bytes_total > 0 ? e.bytes_done / e.bytes_total : 0;
        const fill = Math.round(frac * 24);
        io.stderr.write(
          `\r\x1b[2K[${'#'.repeat(fill)}${'-'.repeat(24 - fill)}] ${e.tensors_done}/${e.tensors_total} tensors  ${gb(e.bytes_done)}/${gb(e.bytes_total)}  ${e.gbps.toFixed(2)} GB/s  ${e.workers} workers`,
        );
      } else if (e.type !== 'progress') {
        io.stderr.write(`${tty ? '\r\x1b[2K' : ''}${e.type}: ${e.state} ${e.phase}${e.message ? ` — ${e.message}` : ''}\n`);
      }
    });
    s.on('end', () => resolve());
    s.on('error', (e: unknown) => reject(remoteError(e)));
  });
  const state = last?.state;
  if (state === 'done') return EXIT_OK;
  if (state === 'cancelled') return 130;
  return EXIT_FAILURE;
}

export function statusCommand(program: Command, io: Io): void {
  clientOptions(program.command('status').description('jobs and live workers of a coordinator'))
    .argument('[job]', 'one job')
    .action(async (job: string | undefined, flags: ClientFlags & { json?: boolean; debug?: boolean }) => {
      io.exitCode = await run(io, flags, async () => {
        const client = mergeClient(flags);
        try {
          if (job) {
            const j = await client.call<JobMsg>('Get', { job_id: job }).catch((e: unknown) => {
              throw remoteError(e);
            });
            io.stdout.write(
              flags.json
                ? JSON.stringify(j) + '\n'
                : `${j.id}: ${j.state} (${j.phase}) ${j.tensors_done}/${j.tensors_total} tensors, ${gb(j.bytes_done)}/${gb(j.bytes_total)}${j.error ? ` — ${j.error}` : ''}\n`,
            );
            return j.state === 'failed' ? EXIT_FAILURE : EXIT_OK;
          }
          const r = await client.call<{ jobs: JobMsg[]; workers: WorkerMsg[] }>('List', {}).catch((e: unknown) => {
            throw remoteError(e);
          });
          if (flags.json) {
            io.stdout.write(JSON.stringify(r) + '\n');
            return EXIT_OK;
          }
          io.stdout.write(`${r.workers.length} live worker(s), ${r.workers.reduce((s, w) => s + w.threads, 0)} threads\n`);
          if (r.workers.length > 0)
            io.stdout.write(
              table([
                ['worker', 'pool', 'threads', 'tasks', 'seen'],
                ...r.workers.map((w) => [w.id, w.pool, String(w.threads), String(w.tasks_done), `${duration(Date.now() / 1000 - w.last_seen)} ago`]),
              ]) + '\n',
            );
          if (r.jobs.length > 0)
            io.stdout.write(
              '\n' +
                table([
                  ['job', 'state', 'phase', 'tensors', 'output'],
                  ...r.jobs.map((j) => [j.id, j.state, j.phase, `${j.tensors_done}/${j.tensors_total}`, j.output]),
                ]) +
                '\n',
            );
          return EXIT_OK;
        } finally {
          client.close();
        }
      });
    });
}

export function cancelCommand(program: Command, io: Io): void {
  clientOptions(program.command('cancel').description('cancel a job: workers take no more of its tasks, its partial output is removed'))
    .argument('<job>', 'job id')
    .action(async (job: string, flags: ClientFlags & { json?: boolean; debug?: boolean }) => {
      io.exitCode = await run(io, flags, async () => {
        const client = mergeClient(flags);
        try {
          const j = await client.call<JobMsg>('Cancel', { job_id: job }).catch((e: unknown) => {
            throw remoteError(e);
          });
          io.stdout.write(flags.json ? JSON.stringify(j) + '\n' : `${j.id}: ${j.state}\n`);
          return EXIT_OK;
        } finally {
          client.close();
        }
      });
    });
}
