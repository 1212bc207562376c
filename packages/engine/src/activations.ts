// The activation-statistics job (and the probe-representation job, its twin): calibration
// sequences split into chains that run in parallel, each chain a sequence of stage tasks
// (layer 0 .. layer L-1, head) passing hidden states through shared storage. Any executor runs the stages (threads here, or remote workers); the
// chains' sums are added in chain order, so the result does not depend on who ran what.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openCheckpoint } from '@tessera/checkpoint';
import type { ActivationStats, Device, ProbeRow } from '@tessera/model';
import { ModelError } from '@tessera/model/errors';

// the model runtime loads only when a model job runs
const model = () => import('@tessera/model');
import { CancelledError } from './errors.js';
import type { Executor } from './executor.js';
import type { ActivationTask, TaskResult } from '@tessera/protocol/task';

export interface ActivationOptions {
  executor: Executor;
  /** shared storage for hidden states between stages (removed at the end) */
  workDir: string;
  /** chains of sequences run in parallel (default 1; more when a chain's hidden states would pass 512 MiB) */
  chains?: number;
  batchSize?: number;
  device?: Device;
  signal?: AbortSignal;
  onStage?: (done: number, total: number) => void;
}

/** Calibration sequences of a jsonl file of {"prompt": ...} (or {"text": ...}) rows: BOS + tokens. */
export async function calibrationSequences(path: string, file: string): Promise<number[][]> {
  const ckpt = await openCheckpoint(path);
  const m = await model();
  const tok = await m.loadTokenizer(path, m.llamaConfig(path, ckpt.config).eos ?? -1);
  const text = await readFile(file, 'utf8').catch(() => {
    throw new ModelError(file, 'cannot read the calibration file');
  });
  const seqs = text.split('\n').flatMap((line, i) => {
    if (line.trim() === '') return [];
    let row: { prompt?: unknown; text?: unknown };
    try {
      row = JSON.parse(line) as typeof row;
    } catch {
      throw new ModelError(`${file}:${i + 1}`, 'not valid JSON');
    }
    const s = row.prompt ?? row.text;
    if (typeof s !== 'string') throw new ModelError(`${file}:${i + 1}`, 'a calibration row needs a string "prompt" (or "text")');
    return [tok.prompt(s)];
  });
  if (seqs.length === 0) throw new ModelError(file, 'no calibration sequences');
  return seqs;
}

export function sequencesHash(seqs: readonly (readonly number[])[]): string {
  return createHash('sha256').update(JSON.stringify(seqs)).digest('hex');
}

/** hidden states of one chain at most (more chains than asked for when the sequences need it) */
const CHAIN_BYTES = 512 * 2 ** 20;

/**
 * Runs the stage tasks of every chain (chains in parallel, stages in order) and hands each
 * stage's output file to `read` (chain index, file, index of the chain's first sequence); the
 * hidden states are removed as they go.
 */
async function runChains(
  path: string,
  seqs: readonly (readonly number[])[],
  opts: ActivationOptions,
  probe: boolean,
  read: (chain: number, file: string, first: number) => Promise<void>,
): Promise<number> {
  const ckpt = await openCheckpoint(path);
  const c = (await model()).llamaConfig(path, ckpt.config);
  // a stage task holds its chain's hidden states twice (in and out): keep a chain under CHAIN_BYTES
  const hiddenBytes = seqs.reduce((n, s) => n + s.length, 0) * c.hidden * 4;
  const chains = Math.max(1, Math.min(Math.max(opts.chains ?? 1, Math.ceil(hiddenBytes / CHAIN_BYTES)), seqs.length));
  const dir = join(opts.workDir, `${probe ? 'probes' : 'activations'}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  const total = chains * (c.layers + 1);
  let done = 0;
  try {
    await Promise.all(
      Array.from({ length: chains }, async (_, k) => {
        const from = Math.floor((k * seqs.length) / chains),
          to = Math.floor(((k + 1) * seqs.length) / chains);
        const seqFile = join(dir, `chain-${k}.json`);
        await writeFile(seqFile, JSON.stringify(seqs.slice(from, to)));
        for (let stage = 0; stage <= c.layers; stage++) {
          if (opts.signal?.aborted) throw new CancelledError();
          const head = stage === c.layers;
          const task: ActivationTask = {
            kind: 'activations',
            id: `${probe ? 'probe' : 'act'}/${k}/${head ? 'head' : stage}`,
            model: path,
            device: opts.device ?? 'cpu',
            stage: head ? 'head' : stage,
            sequences: seqFile,
            batchSize: opts.batchSize ?? 16,
            ...(stage > 0 ? { input: join(dir, `chain-${k}-h${stage - 1}.f32`) } : {}),
            ...(head ? {} : { output: join(dir, `chain-${k}-h${stage}.f32`) }),
            stats: join(dir, `chain-${k}-s${stage}.json`),
            ...(probe ? { probe: true } : {}),
          };
          const r: TaskResult = await opts.executor.run(task, opts.signal);
          if (r.kind !== 'activations') throw new Error(`internal error: stage ${task.id} returned ${r.kind}`);
          await read(k, task.stats, from);
          if (stage > 0) await rm(task.input!, { force: true });
          opts.onStage?.(++done, total);
        }
      }),
    );
    return chains;
  } catch (e) {
    // an aborted stage fails with the executor's own abort error: the job was cancelled
    throw opts.signal?.aborted ? new CancelledError() : e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** AIM's statistics: per tensor, the chains' sums added in chain order. */
export async function collectActivations(model: string, seqs: readonly (readonly number[])[], opts: ActivationOptions): Promise<ActivationStats> {
  const perChain: Map<string, Float64Array>[] = [];
  await runChains(model, seqs, opts, false, async (k, file) => {
    const sums = (perChain[k] ??= new Map());
    for (const [name, values] of Object.entries(JSON.parse(await readFile(file, 'utf8')) as Record<string, number[]>))
      sums.set(name, Float64Array.from(values));
  });
  const sums = new Map<string, Float64Array>();
  for (const chain of perChain) {
    for (const [name, v] of chain) {
      const acc = sums.get(name);
      if (!acc) sums.set(name, Float64Array.from(v));
      else for (let j = 0; j < v.length; j++) acc[j]! += v[j]!;
    }
  }
  return { sums, sequences: seqs.length, meta: { model, sequences_sha256: sequencesHash(seqs) } };
}

/** Probe representations (mean hidden states, last-token attention, next-token distributions) of every sequence. */
export async function collectProbes(model: string, seqs: readonly (readonly number[])[], opts: ActivationOptions): Promise<ProbeRow[]> {
  const perChain: ProbeRow[][] = [];
  await runChains(model, seqs, opts, true, async (k, file, first) => {
    for (const r of JSON.parse(await readFile(file, 'utf8')) as ProbeRow[]) (perChain[k] ??= []).push({ ...r, sequence: r.sequence + first });
  });
  const order = { hidden: 0, attention: 1, next_token: 2 } as const;
  return perChain.flat().sort((a, b) => a.sequence - b.sequence || a.layer - b.layer || order[a.kind] - order[b.kind] || a.head - b.head);
}
