// Jobs: submitted over gRPC, planned and run by the engine on the NATS executor, their state
// kept in KV. At start the coordinator resumes every job left queued or running.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { OutputError } from '@tessera/checkpoint';
import { CancelledError, type JobEvent as EngineEvent, type ResumeHooks, jobOptionsFromWire, mergeOptionsOf, mergeRecipes } from '@tessera/engine';
import { TASK_STREAM, type JobEventMsg, type JobMsg, type SubmitRequestMsg, jobTasks } from '@tessera/protocol';
import { type Recipe, modelsOf, parseRecipes } from '@tessera/recipe';
import { confineInput, confineOutput } from './confine.js';
import type { JobRecord, JobStore } from './job-store.js';
import { modelTaskPool } from './model-pool.js';
import { NatsExecutor } from './nats-executor.js';
import type { WorkerRegistry } from './workers.js';

export type Log = (line: Record<string, unknown>) => void;

interface Running {
  ctrl: AbortController;
  done: Promise<void>;
  exec?: NatsExecutor;
}

export class JobManager {
  private readonly running = new Map<string, Running>();
  private readonly events = new EventEmitter();
  /** the service is shutting down: jobs stay as they are in the store, for the next coordinator */
  private detached = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly store: JobStore,
    private readonly workers: WorkerRegistry,
    private readonly log: Log,
    private readonly concurrency = 64,
    /** local paths a recipe may read and write (none: any) */
    private readonly roots: string[] = [],
  ) {
    this.events.setMaxListeners(0);
  }

  /** Validates a recipe and queues its job; the merge runs in the background. */
  async submit(req: SubmitRequestMsg): Promise<{ jobId: string; warnings: string[] }> {
    const dir = req.recipe_dir || process.cwd();
    const o = jobOptionsFromWire(req.options);
    const recipes = this.parse(req.recipe, dir, o.strict);
    if (!req.output) throw new OutputError('', 'an output folder is required', { reason: 'input' });
    const output = resolve(dir, req.output);
    if (this.roots.length > 0) {
      await confineOutput(this.roots, output);
      for (const r of recipes)
        for (const m of modelsOf(r)) if (m.stage === undefined && !/^[a-z]+:\/\//.test(m.path)) await confineInput(this.roots, m.path, m.where);
      for (const r of recipes) if (r.aim) await confineInput(this.roots, r.aim.calibration, 'aim.calibration');
    }
    if (
      !o.overwrite &&
      (await stat(output).then(
        () => true,
        () => false,
      ))
    ) {
      throw new OutputError(output, 'already exists (pass overwrite to replace it)', { reason: 'exists' });
    }
    const job: JobRecord = {
      id: `j${Date.now().toString(36)}${randomBytes(3).toString('hex')}`,
      state: 'queued',
      phase: 'plan',
      recipe: req.recipe,
      recipeDir: dir,
      output,
      options: o,
      createdAt: Date.now(),
      updatedAt: Date.now(),
      tensorsDone: 0,
      tensorsTotal: 0,
      bytesDone: 0,
      bytesTotal: 0,
      redeliveries: 0,
      error: '',
      epoch: 0,
    };
    await this.store.put(job);
    this.start(job);
    return { jobId: job.id, warnings: recipes.flatMap((r) => r.warnings) };
  }

  private parse(text: string, dir: string, strict: boolean): Recipe[] {
    return parseRecipes(text, join(dir, 'recipe.yaml'), { strict, cwd: dir });
  }

  /** Resumes the jobs an earlier coordinator left unfinished. */
  async resumeAll(): Promise<void> {
    for (const job of await this.store.list()) {
      if (job.state === 'queued' || job.state === 'running') {
        this.log({ event: 'resume', job: job.id, epoch: job.epoch });
        this.start(job);
      }
    }
  }

  get(id: string): Promise<JobRecord | undefined> {
    return this.store.get(id);
  }

  list(): Promise<JobRecord[]> {
    return this.store.list();
  }

  async cancel(id: string): Promise<JobRecord | undefined> {
    const r = this.running.get(id);
    if (r) {
      r.ctrl.abort();
      await r.done;
    }
    return this.store.get(id);
  }

  /** Events of every job (returns an unsubscribe function). */
  watchAll(listener: (e: JobEventMsg) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  /** Events of a job (listener returns an unsubscribe function). */
  watch(id: string, listener: (e: JobEventMsg) => void): () => void {
    const f = (e: JobEventMsg) => {
      if (e.job_id === id) listener(e);
    };
    this.events.on('event', f);
    return () => this.events.off('event', f);
  }

  /**
   * Service shutdown: every running job stops where it is, neither failed nor cleaned up, its
   * record, finished tasks and partial output left for the next coordinator to resume.
   */
  detach(): void {
    this.detached = true;
    for (const r of this.running.values()) r.exec?.freeze();
  }

  private emit(job: JobRecord, type: string, extra: Partial<JobEventMsg> = {}): void {
    this.events.emit('event', {
      job_id: job.id,
      type,
      state: job.state,
      phase: job.phase,
      tensors_done: job.tensorsDone,
      tensors_total: job.tensorsTotal,
      bytes_done: job.bytesDone,
      bytes_total: job.bytesTotal,
      gbps: 0,
      workers: 0,
      message: '',
      time: Date.now() / 1000,
      ...extra,
    } satisfies JobEventMsg);
  }

  private start(job: JobRecord): void {
    if (this.detached) return;
    const r: Running = { ctrl: new AbortController(), done: Promise.resolve() };
    this.running.set(job.id, r);
    r.done = this.run(job, r).finally(() => this.running.delete(job.id));
  }

  private async run(job: JobRecord, r: Running): Promise<void> {
    const ctrl = r.ctrl;
    job.epoch++;
    job.state = 'running';
    job.error = '';
    await this.store.put(job);
    this.emit(job, 'state');
    // tasks an interrupted run published but no worker took yet are published again below
    await this.jsm.streams.purge(TASK_STREAM, { filter: jobTasks(job.id) }).catch(() => undefined);
    const done = await this.store.done(job.id);
    const workers = (await this.workers.live()).length;
    // the record is stored at most once a second; a save held back by that limit happens when it
    // ends, so that a job whose results stop coming (a paused or lost worker) is stored as it stands
    let lastSave = 0;
    let held: NodeJS.Timeout | undefined;
    const save = async (force = false) => {
      const wait = 1000 - (Date.now() - lastSave);
      if (!force && wait > 0) {
        held ??= setTimeout(() => {
          held = undefined;
          if (!this.detached) void save(true);
        }, wait).unref();
        return;
      }
      clearTimeout(held);
      held = undefined;
      lastSave = Date.now();
      await this.store.put(job).catch(() => undefined);
    };
    const poolOf = await modelTaskPool(this.workers);
    const exec = new NatsExecutor(this.js, this.jsm, job.id, job.epoch, this.concurrency, {
      poolOf,
      onResult: (r) => {
        if (r.delivery > 1 && r.final) {
          job.redeliveries++;
          this.emit(job, 'redelivery', { message: `task ${r.taskId} delivered ${r.delivery} times (worker ${r.worker})` });
        }
        if (!r.final && r.outcome.kind === 'error')
          this.emit(job, 'warning', { message: `task ${r.taskId} failed on ${r.worker} (attempt ${r.delivery}), retrying: ${r.outcome.error.message}` });
      },
    });
    r.exec = exec;
    if (this.detached) exec.freeze();
    const resume: ResumeHooks = {
      isDone: (scope, id) => done.get(scope)?.has(id) ?? false,
      markDone: async (scope, id) => {
        if (this.detached) return new Promise<void>(() => undefined);
        const set = done.get(scope) ?? new Set<string>();
        set.add(id);
        done.set(scope, set);
        const group = id.split('/')[0]!;
        await this.store.markDone(
          job.id,
          scope,
          group,
          [...set].filter((t) => t.split('/')[0] === group),
        );
      },
    };
    const onEvent = (e: EngineEvent) => {
      switch (e.type) {
        case 'plan':
          job.phase = 'merge';
          job.tensorsTotal = e.tensors;
          job.bytesTotal = e.inputBytes;
          job.tensorsDone = 0;
          job.bytesDone = 0;
          break;
        case 'progress':
          job.tensorsDone = e.tensorsDone;
          job.bytesDone = e.bytesDone;
          this.emit(job, 'progress', { gbps: e.gbps, workers });
          void save();
          return;
        case 'finalise':
          job.phase = e.step === 'publish' ? 'publish' : 'finalise';
          break;
        case 'stage':
          job.phase = `stage ${e.index}/${e.count}`;
          break;
        case 'warning':
          this.emit(job, 'warning', { message: e.message });
          return;
        case 'done':
          job.tensorsDone = job.tensorsTotal;
          job.bytesDone = job.bytesTotal;
          break;
      }
      this.emit(job, 'state');
      void save(true);
    };
    try {
      await exec.start();
      const o = job.options;
      await mergeRecipes(this.parse(job.recipe, job.recipeDir, o.strict), {
        out: job.output,
        executor: exec,
        signal: ctrl.signal,
        jobKey: job.id,
        resume,
        onEvent,
        ...mergeOptionsOf(o),
      });
      if (this.detached) return;
      job.state = 'done';
      job.phase = 'done';
      await this.store.forget(job.id);
    } catch (e) {
      if (this.detached) return;
      job.state = ctrl.signal.aborted || e instanceof CancelledError ? 'cancelled' : 'failed';
      job.error = job.state === 'cancelled' ? 'cancelled' : e instanceof Error ? e.message : String(e);
      this.log({ event: 'job-failed', job: job.id, state: job.state, error: job.error });
      await this.store.forget(job.id);
    } finally {
      if (!this.detached) {
        await this.store.markEnded(job.id, job.state).catch(() => undefined);
        await this.jsm.streams.purge(TASK_STREAM, { filter: jobTasks(job.id) }).catch(() => undefined);
        await exec.close(true);
        await save(true);
        this.emit(job, 'state', { message: job.error });
        this.log({ event: 'job-end', job: job.id, state: job.state });
      }
    }
  }
}

export function jobMessage(j: JobRecord): JobMsg {
  return {
    id: j.id,
    state: j.state,
    phase: j.phase,
    output: j.output,
    tensors_done: j.tensorsDone,
    tensors_total: j.tensorsTotal,
    bytes_done: j.bytesDone,
    bytes_total: j.bytesTotal,
    error: j.error,
    created_at: j.createdAt / 1000,
    updated_at: j.updatedAt / 1000,
    redeliveries: j.redeliveries,
  };
}
