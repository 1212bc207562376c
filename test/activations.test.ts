// Activation statistics: layer-by-layer stage tasks over chains of sequences, embedded and on
// real worker processes over NATS, against a direct whole-model computation (chain split and
// batch size do not matter), which itself is held to an independent float64 forward pass (the
// right activations are tapped), whose logits match the zoo's reference logits.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File } from '@tessera/checkpoint';
import { EmbeddedExecutor, calibrationSequences, collectActivations } from '@tessera/engine';
import { readProbes, readStats } from '@tessera/model';
import { beforeAll, describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { loadWeights, forward64 } from './support/float64-llama.js';
import { directStats } from './support/full-model.js';
import { spawnService, natsWithWorkers } from './support/services.js';
import { tempDir } from './support/tmp.js';
import { ZOO } from './support/vocab-fixtures.js';
import { readReferenceLogits } from './support/zoo-reference.js';

const BASE = join(ZOO, 'base');
const PROBES = join(ZOO, 'probes.jsonl');
const root = tempDir('activations');
let direct: Map<string, Float64Array>;

function expectClose(got: Map<string, Float64Array>, want: Map<string, Float64Array>): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  let worst = 0;
  for (const [name, w] of want) {
    const g = got.get(name)!;
    expect(g.length, name).toBe(w.length);
    for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(g[j]! - w[j]!) / Math.max(Math.abs(w[j]!), 1e-30));
  }
  expect(worst).toBeLessThanOrEqual(1e-5);
}

beforeAll(async () => {
  direct = await directStats(BASE, await calibrationSequences(BASE, PROBES));
});

describe('activation statistics', () => {
  it("the float64 reference forward pass reproduces the zoo's reference logits", async () => {
    const { w, config } = await loadWeights(BASE);
    let worst = 0;
    for (const probe of (await readReferenceLogits(join(BASE, 'reference_logits.safetensors'))).slice(0, 3)) {
      const { logits } = forward64(w, config, probe.ids);
      logits.forEach((row, t) =>
        row.forEach((v, j) => {
          worst = Math.max(worst, Math.abs(v - probe.logits[t * row.length + j]!));
        }),
      );
    }
    expect(worst).toBeLessThan(1e-3);
  });

  it('the direct computation taps the activations the float64 reference defines, for every statistic', async () => {
    const { w, config } = await loadWeights(BASE);
    const want = new Map<string, Float64Array>();
    // 16 of the 64 sequences keep the float64 pass short
    const seqs = (await calibrationSequences(BASE, PROBES)).slice(0, 16);
    const got = await directStats(BASE, seqs);
    for (const seq of seqs) {
      for (const [name, m] of forward64(w, config, seq).taps) {
        const acc = want.get(name) ?? new Float64Array(m.length);
        m.forEach((v, j) => {
          acc[j]! += v;
        });
        want.set(name, acc);
      }
    }
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    let worst = 0;
    for (const [name, wv] of want) {
      const g = got.get(name)!;
      expect(g.length, name).toBe(wv.length);
      wv.forEach((v, j) => {
        worst = Math.max(worst, Math.abs(g[j]! - v) / Math.max(Math.abs(v), 1e-3));
      });
    }
    expect(worst).toBeLessThan(1e-4);
  });

  it('cover every linear layer and norm (not the embeddings), one value per input channel', () => {
    expect(direct.size).toBe(4 * 9 + 2);
    expect(direct.has('model.embed_tokens.weight')).toBe(false);
    expect(direct.get('model.layers.0.mlp.down_proj.weight')!.length).toBe(352);
    expect(direct.get('model.layers.2.self_attn.q_proj.weight')!.length).toBe(128);
    // q, k and v read the same normed input
    expect(direct.get('model.layers.1.self_attn.k_proj.weight')).toEqual(direct.get('model.layers.1.self_attn.q_proj.weight'));
  });

  it.each([
    [1, 16],
    [3, 5],
  ])('embedded, %i chain(s), batches of %i: equal the direct whole-model computation', async (chains, batchSize) => {
    const seqs = await calibrationSequences(BASE, PROBES);
    const exec = new EmbeddedExecutor(2);
    try {
      const r = await collectActivations(BASE, seqs, { executor: exec, workDir: root, chains, batchSize });
      expect(r.sequences).toBe(64);
      expectClose(r.sums, direct);
    } finally {
      await exec.close();
    }
  });

  describe('over NATS on worker processes', () => {
    const cluster = natsWithWorkers(2);
    const workers = cluster.workers;

    it.each([1, 3])('%i chain(s): tessera activations --nats writes the same statistics', async (chains) => {
      const out = join(root, `nats-${chains}.arrow`);
      const r = await tessera(['activations', BASE, '--probes', PROBES, '--out', out, '--chains', String(chains), '--nats', cluster.nats.url, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const stats = await readStats(out);
      expect(stats.sequences).toBe(64);
      expectClose(stats.sums, direct);
      const ran = workers.flatMap((w) => w.lines.filter((l) => l.event === 'task' && String(l.task).startsWith('act/')));
      expect(ran.length).toBeGreaterThanOrEqual(chains * 5);
    });

    it('model tasks go to a worker of the gpu pool when one is live', async () => {
      const gpu = spawnService(['worker', '--nats', cluster.nats.url, '--threads', '1', '--pool', 'gpu']);
      workers.push(gpu);
      await gpu.waitFor((l) => l.event === 'started');
      await new Promise((r) => setTimeout(r, 2500)); // its first heartbeat is in the bucket
      const before = workers.slice(0, 2).map((w) => w.lines.length);
      const r = await tessera(['activations', BASE, '--probes', PROBES, '--out', join(root, 'gpu.arrow'), '--chains', '2', '--nats', cluster.nats.url]);
      expect(r.code, r.stderr).toBe(0);
      expect(gpu.lines.filter((l) => l.event === 'task' && String(l.task).startsWith('act/'))).toHaveLength(2 * 5);
      workers.slice(0, 2).forEach((w, i) => expect(w.lines.slice(before[i]).filter((l) => l.event === 'task')).toEqual([]));
      expectClose((await readStats(join(root, 'gpu.arrow'))).sums, direct);
    });

    it('tessera probe --nats writes the representations of the embedded run', async () => {
      const outs = [join(root, 'probe-nats.arrow'), join(root, 'probe-local.arrow')];
      const remote = await tessera(['probe', BASE, '--probes', PROBES, '--out', outs[0]!, '--chains', '2', '--nats', cluster.nats.url]);
      expect(remote.code, remote.stderr).toBe(0);
      expect((await tessera(['probe', BASE, '--probes', PROBES, '--out', outs[1]!])).code).toBe(0);
      const [a, b] = await Promise.all(outs.map((o) => readProbes(o)));
      expect(a!.map((r) => `${r.kind}/${r.sequence}/${r.layer}/${r.head}`)).toEqual(b!.map((r) => `${r.kind}/${r.sequence}/${r.layer}/${r.head}`));
      let worst = 0;
      a!.forEach((r, i) =>
        r.values.forEach((v, j) => {
          worst = Math.max(worst, Math.abs(v - b![i]!.values[j]!));
        }),
      );
      expect(worst).toBeLessThan(1e-4);
    });

    it('a recipe with aim: merged over NATS writes the bytes of the embedded merge', async () => {
      const recipe = join(root, 'aim.yaml');
      writeFileSync(
        recipe,
        `merge_method: task_arithmetic\nbase_model: ${BASE}\nmodels:\n  - {model: ${join(ZOO, 'up')}, parameters: {weight: 1}}\n  - {model: ${join(ZOO, 'rev')}, parameters: {weight: 1}}\naim: {calibration: ${PROBES}, omega: 0.5}\n`,
      );
      const env = { TESSERA_CACHE_DIR: join(root, 'cache-nats') };
      const remote = await tessera(['merge', recipe, '--out', join(root, 'aim-nats'), '--nats', cluster.nats.url, '--no-fsync'], { env });
      expect(remote.code, remote.stderr).toBe(0);
      const local = await tessera(['merge', recipe, '--out', join(root, 'aim-local'), '--no-fsync'], { env: { TESSERA_CACHE_DIR: join(root, 'cache-local') } });
      expect(local.code, local.stderr).toBe(0);
      expect(await sha256File(join(root, 'aim-nats', 'model.safetensors'))).toBe(await sha256File(join(root, 'aim-local', 'model.safetensors')));
    });
  });

  it('a bad calibration file exits 2 naming the file and line', async () => {
    const bad = join(root, 'bad.jsonl');
    writeFileSync(bad, '{"prompt": "fine"}\n{"prompt": 7}\n');
    const r = await tessera(['activations', BASE, '--probes', bad, '--out', join(root, 'x.arrow')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.jsonl:2: a calibration row needs a string "prompt"/);
  });
});
