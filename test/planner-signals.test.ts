// Structural signals of experts: hand-computed values on tiny tensors, the same numbers embedded
// and over NATS on worker processes, and signals of a task-arithmetic intermediate derived from
// the Grams equal to those computed on the written intermediate.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createOutputFiles, planOutput, writeAt } from '@tessera/checkpoint';
import { EmbeddedExecutor, mergeRecipeFile } from '@tessera/engine';
import { pairSignals, readSignals, sampledLayers, structuralStats, sums, withCombination } from '@tessera/planner';
import { beforeAll, describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { natsWithWorkers } from './support/services.js';
import { tempDir } from './support/tmp.js';
import { ZOO } from './support/vocab-fixtures.js';

const dir = tempDir('signals');
const B = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const D1 = [0.5, -1, 0, 2, 0, 0, 0.25, 0, 0, -4];
const D2 = [1, 1, 0, -3, 0.5, 0, 0, 0, 0, 2];

async function writeF32(path: string, tensors: Record<string, { shape: number[]; values: number[] }>): Promise<void> {
  mkdirSync(path, { recursive: true });
  const list = Object.entries(tensors).map(([name, t]) => ({ name, dtype: 'F32', shape: t.shape }));
  const layout = planOutput(list);
  await createOutputFiles(path, layout);
  for (const [i, t] of layout.files[0]!.tensors.entries()) {
    await writeAt(join(path, layout.files[0]!.name), t.offset, new Uint8Array(Float32Array.from(tensors[list[i]!.name]!.values).buffer));
  }
  writeFileSync(join(path, 'config.json'), JSON.stringify({ model_type: 'llama', num_hidden_layers: 1 }));
}

const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i]!, 0);
const close = (got: number, want: number, rel = 1e-12) => expect(Math.abs(got - want)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(want)));

beforeAll(async () => {
  const add = (d: number[], b: number[]) => b.map((v, i) => v + d[i]!);
  const model = (d: number[], n: number[]) => ({
    'model.layers.0.mlp.up_proj.weight': { shape: [2, 5], values: add(d, B) },
    'model.norm.weight': { shape: [3], values: add(n, [1, 1, 1]) },
  });
  await writeF32(join(dir, 'base'), model(Array(10).fill(0), [0, 0, 0]));
  await writeF32(join(dir, 'm1'), model(D1, [1, 0, 0]));
  await writeF32(join(dir, 'm2'), model(D2, [1, 0, 0]));
});

describe('structural signals', () => {
  it('equal hand-computed values on tiny tensors (per layer and overall)', async () => {
    const exec = new EmbeddedExecutor(2);
    try {
      const stats = await structuralStats(join(dir, 'base'), [join(dir, 'm1'), join(dir, 'm2')], { executor: exec });
      // layer 0 holds only the [2, 5] tensor: its top-2 entries are indices 9, 3 (m1) and 3, 9 (m2), both with opposite signs
      const layer = pairSignals(
        sums(stats, (t) => t.layer === 0),
        0,
        1,
      );
      close(layer.cos, dot(D1, D2) / Math.sqrt(dot(D1, D1) * dot(D2, D2)));
      expect(dot(D1, D2)).toBe(-14.5);
      close(layer.normA, Math.sqrt(21.3125));
      close(layer.normB, Math.sqrt(15.25));
      close(layer.normRatio, Math.sqrt(21.3125 / 15.25));
      close(layer.relA, Math.sqrt(21.3125 / 385));
      expect(layer.signAgreement).toBe(1 / 4);
      expect(layer.tiesConflict).toBe(1);
      const m1 = B.map((v, i) => v + D1[i]!),
        m2 = B.map((v, i) => v + D2[i]!);
      close(layer.weightCos, dot(m1, m2) / Math.sqrt(dot(m1, m1) * dot(m2, m2)));
      // overall: the norm's task vectors [1, 0, 0] twice add 1 to every Gram entry and one agreeing position; 3 elements keep none at density 0.2
      const all = pairSignals(sums(stats), 0, 1);
      close(all.cos, -13.5 / Math.sqrt(22.3125 * 16.25));
      expect(all.signAgreement).toBe(2 / 5);
      expect(all.tiesConflict).toBe(1);
      close(all.relB, Math.sqrt(16.25 / (385 + 3)));
    } finally {
      await exec.close();
    }
  });

  it("are cached by the models' content hashes: a second computation runs no stats task and gives the same numbers", async () => {
    const cacheDir = join(dir, 'cache');
    process.env.TESSERA_CACHE_DIR = cacheDir;
    const exec = new EmbeddedExecutor(1);
    let tasks = 0;
    const counting = {
      concurrency: 1,
      run: (t: Parameters<typeof exec.run>[0], s?: AbortSignal) => {
        if (t.kind === 'stats') tasks++;
        return exec.run(t, s);
      },
      close: async () => undefined,
    };
    try {
      const models = [join(ZOO, 'add'), join(ZOO, 'up')];
      const first = await structuralStats(join(ZOO, 'base'), models, { executor: counting });
      const computed = tasks;
      expect(computed).toBeGreaterThan(0);
      const second = await structuralStats(join(ZOO, 'base'), models, { executor: counting });
      expect(tasks).toBe(computed);
      expect(second.tensors).toEqual(first.tensors);
      await structuralStats(join(ZOO, 'base'), models, { executor: counting, density: 0.5 });
      expect(tasks).toBeGreaterThan(computed);
    } finally {
      delete process.env.TESSERA_CACHE_DIR;
      await exec.close();
    }
  });

  it('from sampled layers: evenly spaced layers, each with the statistics of a full computation, and nothing else', async () => {
    expect([...sampledLayers(126, 1)]).toEqual([63]);
    expect([...sampledLayers(16, 4)]).toEqual([2, 6, 10, 14]);
    expect([...sampledLayers(3, 5)]).toEqual([0, 1, 2]);
    const exec = new EmbeddedExecutor(2);
    try {
      const models = [join(ZOO, 'add'), join(ZOO, 'up')];
      const full = await structuralStats(join(ZOO, 'base'), models, { executor: exec, cache: false });
      const count = new Set(full.tensors.map((t) => t.layer).filter((l) => l !== undefined)).size;
      expect(count).toBeGreaterThan(1);
      const one = await structuralStats(join(ZOO, 'base'), models, { executor: exec, cache: false, layers: 1 });
      const middle = Math.floor(count / 2);
      expect(one.tensors.length).toBeGreaterThan(0);
      expect(one.tensors).toEqual(full.tensors.filter((t) => t.layer === middle));
    } finally {
      await exec.close();
    }
  });

  it('of a task-arithmetic intermediate, from the Grams, equal those computed on the written intermediate', async () => {
    const [base, a, b, c] = ['base', 'add', 'rev', 'up'].map((m) => join(ZOO, m));
    writeFileSync(
      join(dir, 'inter.yaml'),
      `merge_method: task_arithmetic\nbase_model: ${base}\nmodels:\n  - {model: ${a}, parameters: {weight: 0.7}}\n  - {model: ${b}, parameters: {weight: 0.7}}\nout_dtype: float32\n`,
    );
    await mergeRecipeFile(join(dir, 'inter.yaml'), { out: join(dir, 'inter'), fsync: false, workers: 2 });
    const exec = new EmbeddedExecutor(2);
    try {
      const derived = withCombination(await structuralStats(base!, [a!, b!, c!], { executor: exec }), [0.7, 0.7, 0]);
      const direct = await structuralStats(base!, [join(dir, 'inter'), c!], { executor: exec });
      const scopes = [
        sums,
        (s: typeof direct) => sums(s, (t) => t.layer === 2),
        (s: typeof direct) => sums(s, (t) => t.name === 'model.layers.1.mlp.down_proj.weight'),
      ];
      for (const scope of scopes) {
        const want = pairSignals(scope(direct), 0, 1);
        const got = pairSignals(scope(derived), 3, 2);
        for (const key of ['cos', 'normA', 'normB', 'normRatio', 'relA', 'relB', 'weightCos'] as const) close(got[key], want[key], 1e-5);
      }
    } finally {
      await exec.close();
    }
  });

  it('functional signals on the shipped generic probes: a model against itself agrees fully, two experts diverge', async () => {
    const r = await tessera([
      'planner',
      'signals',
      join(ZOO, 'base'),
      join(ZOO, 'add'),
      join(ZOO, 'add'),
      join(ZOO, 'rev'),
      '--out',
      join(dir, 'f.arrow'),
      '--probes',
      'default',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      pairs: { a: number; b: number; cos: number }[];
      functional: { a: number; b: number; signals: { klAB: { mean: number }; top1Agreement: number; cka: number[]; hiddenCos: number[] } }[];
    };
    const same = out.functional.find((f) => f.a === 0 && f.b === 1)!.signals;
    expect(same.klAB.mean).toBe(0);
    expect(same.top1Agreement).toBe(1);
    expect(same.cka.every((c) => Math.abs(c - 1) < 1e-9)).toBe(true);
    expect(out.pairs.find((p) => p.a === 0 && p.b === 1)!.cos).toBeCloseTo(1, 12);
    const other = out.functional.find((f) => f.a === 0 && f.b === 2)!.signals;
    expect(other.klAB.mean).toBeGreaterThan(0);
    expect(other.hiddenCos.every((c) => c < 1)).toBe(true);
  });

  describe('over NATS', () => {
    const cluster = natsWithWorkers(2);
    const workers = cluster.workers;

    it('tessera planner signals writes the same numbers embedded and on worker processes', async () => {
      const models = ['add', 'rev', 'up'].map((m) => join(ZOO, m));
      const local = await tessera(['planner', 'signals', join(ZOO, 'base'), ...models, '--out', join(dir, 'local.arrow'), '--no-cache']);
      expect(local.code, local.stderr).toBe(0);
      const remote = await tessera([
        'planner',
        'signals',
        join(ZOO, 'base'),
        ...models,
        '--out',
        join(dir, 'remote.arrow'),
        '--nats',
        cluster.nats.url,
        '--no-cache',
      ]);
      expect(remote.code, remote.stderr).toBe(0);
      const [x, y] = [await readSignals(join(dir, 'local.arrow')), await readSignals(join(dir, 'remote.arrow'))];
      expect(x.rows.length).toBe(3 * (1 + 4 + 39));
      expect(y.rows).toEqual(x.rows);
      expect(workers.every((w) => w.lines.some((l) => l.event === 'task'))).toBe(true);
    });
  });
});
