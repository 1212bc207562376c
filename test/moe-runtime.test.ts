// The model runtime on mixture-of-experts checkpoints of three families (Mixtral: softmax router,
// renormalised top-2; Qwen3-MoE: per-head q/k norms, a dense layer among MoE layers; DeepSeek-V3:
// latent attention with interleaved rotary, sigmoid scores with group-limited top-k on the
// correction bias, scaled gates, a shared expert, a dense first layer). Tiny random checkpoints
// and their reference outputs come from a plain PyTorch forward pass (fixtures/moe/make_reference.py):
// logits within 1e-3 on a padded batch, per-expert activation statistics (tokens routed to the
// expert only) equal to the reference, and cached greedy decoding consistent with the forward pass.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedExecutor, collectActivations, collectProbes } from '@tessera/engine';
import { LlamaRuntime, forward, generate, readStats } from '@tessera/model';
import { tessera } from './support/cli.js';
import { tensorBytes } from './support/tensors.js';
import { ZOO } from './support/vocab-fixtures.js';
import { describe, expect, it } from 'vitest';
import { tempDir } from './support/tmp.js';

const FIXTURES = join(import.meta.dirname, 'fixtures/moe');
const FAMILIES = ['mixtral', 'qwen3_moe', 'deepseek_v3'] as const;

interface Reference {
  sequences: number[][];
  logits: number[][];
  stats: Record<string, number[]>;
}

const reference = (family: string) => JSON.parse(readFileSync(join(FIXTURES, family, 'reference.json'), 'utf8')) as Reference;

function argmax(v: Float32Array, from: number, n: number): number {
  let best = from;
  for (let i = from; i < from + n; i++) if (v[i]! > v[best]!) best = i;
  return best - from;
}

describe.each(FAMILIES)('%s', (family) => {
  const dir = join(FIXTURES, family);
  const ref = reference(family);

  it('logits at every position within 1e-3 of PyTorch (the sequences padded into one batch)', async () => {
    const rt = await LlamaRuntime.open(dir);
    try {
      const r = await forward(rt, ref.sequences, { batchSize: 3, positions: (s) => ref.sequences[s]!.map((_, t) => t) });
      let worst = 0;
      for (const [s, want] of ref.logits.entries()) {
        expect(r.logits[s]!.length).toBe(want.length);
        want.forEach((v, i) => {
          worst = Math.max(worst, Math.abs(r.logits[s]![i]! - v));
        });
      }
      expect(worst).toBeLessThan(1e-3);
    } finally {
      await rt.close();
    }
  });

  it('activation statistics per expert average only the tokens routed to it, as a direct computation does', async () => {
    const exec = new EmbeddedExecutor(1);
    try {
      const r = await collectActivations(dir, ref.sequences, { executor: exec, workDir: tempDir(`moe-stats-${family}`), chains: 1, batchSize: 2 });
      let worst = 0;
      for (const [name, want] of Object.entries(ref.stats)) {
        const got = r.sums.get(name);
        expect(got, name).toBeDefined();
        expect(got!.length, name).toBe(want.length);
        want.forEach((v, j) => {
          worst = Math.max(worst, Math.abs(got![j]! - v) / Math.max(Math.abs(v), 1e-3));
        });
      }
      expect(worst).toBeLessThan(1e-4);
      // experts no token was routed to have all-zero statistics (the reference has no entry for them)
      const experts = [...r.sums.keys()].filter((n) => /experts\.\d+\./.test(n));
      expect(experts.length).toBeGreaterThan(0);
      for (const name of experts.filter((n) => !(n in ref.stats)))
        expect(
          r.sums.get(name)!.every((v) => v === 0),
          name,
        ).toBe(true);
    } finally {
      await exec.close();
    }
  });

  it('probes: attention rows of the last token sum to 1 over its positions, one per head and layer', async () => {
    const exec = new EmbeddedExecutor(1);
    try {
      const rows = await collectProbes(dir, ref.sequences, { executor: exec, workDir: tempDir(`moe-probes-${family}`), chains: 1, batchSize: 3 });
      const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { num_hidden_layers: number; num_attention_heads: number };
      const attention = rows.filter((r) => r.kind === 'attention');
      expect(attention).toHaveLength(ref.sequences.length * c.num_hidden_layers * c.num_attention_heads);
      for (const r of attention) {
        expect(r.values).toHaveLength(ref.sequences[r.sequence]!.length);
        expect(Math.abs(r.values.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
      }
      expect(rows.filter((r) => r.kind === 'next_token')).toHaveLength(ref.sequences.length);
    } finally {
      await exec.close();
    }
  });

  it('greedy decoding with the key/value cache picks the tokens the full forward pass ranks first', async () => {
    const rt = await LlamaRuntime.open(dir);
    try {
      const g = await generate(rt, ref.sequences, { maxNewTokens: 4, batchSize: 3 });
      const extended = ref.sequences.map((s, i) => [...s, ...g.tokens[i]!]);
      const r = await forward(rt, extended, { batchSize: 3, positions: (s) => g.tokens[s]!.map((_, j) => ref.sequences[s]!.length - 1 + j) });
      const V = rt.config.vocabSize;
      for (const [s, tokens] of g.tokens.entries()) {
        // four tokens, or fewer ending with EOS
        expect(tokens.length === 4 || tokens[tokens.length - 1] === rt.config.eos, `${tokens}`).toBe(true);
        expect(tokens.map((_, j) => argmax(r.logits[s]!, j * V, V))).toEqual(tokens);
      }
    } finally {
      await rt.close();
    }
  });
});

it('refuses MoE settings it does not implement, naming config.json and the key', async () => {
  const src = join(FIXTURES, 'deepseek_v3');
  const config = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
  for (const [change, message] of [
    [{ scoring_func: 'softmax' }, /config\.json: scoring_func "softmax" is not supported \(sigmoid is\)/],
    [{ n_group: 3 }, /config\.json: n_routed_experts \(8\) must be a multiple of n_group \(3\)/],
    [{ first_k_dense_replace: -1 }, /config\.json: first_k_dense_replace: must be a non-negative integer/],
  ] as const) {
    const dir = tempDir('moe-bad-config');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(src, 'model.safetensors'), join(dir, 'model.safetensors'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, ...change }));
    await expect(LlamaRuntime.open(dir)).rejects.toThrow(message);
  }
});

describe('the CLI on a DeepSeek-V3-shaped pair', () => {
  const base = join(FIXTURES, 'deepseek_v3'),
    expert = join(FIXTURES, 'deepseek_v3-expert');
  const root = tempDir('moe-cli');
  const f32 = (b: Uint8Array) => new Float32Array(b.slice().buffer);

  it('tessera eval scores it (exact match, one summary line)', async () => {
    const r = await tessera(['eval', base, '--tasks', join(ZOO, 'eval', 'up.jsonl'), '--limit', '10', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ type: 'task', task: 'up', total: 10 });
    expect(lines[1]).toMatchObject({ type: 'summary' });
  });

  it('AIM with per-expert statistics: each expert tensor is B + (M - B) * r over its own channels', async () => {
    const stats = join(root, 'stats.arrow');
    let r = await tessera(['activations', base, '--probes', join(ZOO, 'probes.jsonl'), '--out', stats]);
    expect(r.code, r.stderr).toBe(0);
    mkdirSync(root, { recursive: true });
    const recipe = join(root, 'aim.yaml');
    writeFileSync(
      recipe,
      `merge_method: task_arithmetic\nbase_model: ${base}\nmodels:\n  - {model: ${expert}, parameters: {weight: 1}}\naim: {calibration: ${stats}, omega: 0.2}\n`,
    );
    r = await tessera(['merge', recipe, '--out', join(root, 'aim-out'), '--no-fsync']);
    expect(r.code, r.stderr).toBe(0);
    const [b, e, out, sums] = await Promise.all([tensorBytes(base), tensorBytes(expert), tensorBytes(join(root, 'aim-out')), readStats(stats)]);
    let checked = 0,
      moved = 0;
    for (const name of ['model.layers.1.mlp.experts.3.down_proj.weight', 'model.layers.2.mlp.experts.5.gate_proj.weight', 'model.layers.1.mlp.gate.weight']) {
      const a = sums.sums.get(name)!;
      const [bv, ev, got] = [f32(b.get(name)!.bytes), f32(e.get(name)!.bytes), f32(out.get(name)!.bytes)];
      const max = Math.max(...a);
      expect(max, name).toBeGreaterThan(0);
      for (let i = 0; i < got.length; i++) {
        const rel = 1 - (a[i % a.length]! / max) * (1 - 0.2);
        const want = bv[i]! + (Math.fround(bv[i]! + (ev[i]! - bv[i]!)) - bv[i]!) * rel;
        if (Math.abs(got[i]! - want) > 1e-6 * Math.max(Math.abs(want), 1e-3)) expect.fail(`${name}[${i}]: ${got[i]}, want ${want}`);
        if (Math.abs(got[i]! - ev[i]!) > 1e-7) moved++;
        checked++;
      }
    }
    expect(moved).toBeGreaterThan(checked / 2);
  });
});
