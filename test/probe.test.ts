// Probe representations: next-token distributions against the zoo's reference logits,
// attention rows as distributions over the sequence, and independence of the chain split.
import { join } from 'node:path';
import { readProbes } from '@tessera/model';
import { expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { tempDir } from './support/tmp.js';
import { ZOO } from './support/vocab-fixtures.js';
import { readReferenceLogits } from './support/zoo-reference.js';

const root = tempDir('probe');

it('writes mean hidden states, last-token attention per head and next-token distributions, for any chain split', async () => {
  const runs = [];
  for (const chains of [1, 3]) {
    const out = join(root, `p${chains}.arrow`);
    const r = await tessera([
      'probe',
      join(ZOO, 'base'),
      '--probes',
      join(ZOO, 'probes.jsonl'),
      '--out',
      out,
      '--chains',
      String(chains),
      '--batch',
      String(chains === 1 ? 64 : 7),
    ]);
    expect(r.code, r.stderr).toBe(0);
    runs.push(await readProbes(out));
  }
  const [one, three] = runs as [Awaited<ReturnType<typeof readProbes>>, Awaited<ReturnType<typeof readProbes>>];
  expect(one).toHaveLength(64 * (4 * (1 + 4) + 1));
  const ref = await readReferenceLogits(join(ZOO, 'base', 'reference_logits.safetensors'));
  for (const [i, p] of ref.entries()) {
    const row = one.find((r) => r.kind === 'next_token' && r.sequence === i)!;
    const last = p.logits.subarray((p.ids.length - 1) * 260, p.ids.length * 260);
    const max = Math.max(...last),
      z = last.reduce((s, x) => s + Math.exp(x - max), 0);
    const want = Array.from(last, (x) => Math.exp(x - max) / z);
    expect(Math.max(...want.map((w, j) => Math.abs(w - row.values[j]!)))).toBeLessThan(1e-4);
    for (const a of one.filter((r) => r.kind === 'attention' && r.sequence === i)) {
      expect(a.values).toHaveLength(p.ids.length);
      expect(Math.abs(a.values.reduce((s, x) => s + x, 0) - 1)).toBeLessThan(1e-5);
    }
  }
  expect(three.map((r) => `${r.kind}/${r.sequence}/${r.layer}/${r.head}`)).toEqual(one.map((r) => `${r.kind}/${r.sequence}/${r.layer}/${r.head}`));
  let worst = 0;
  three.forEach((r, i) =>
    r.values.forEach((v, j) => {
      worst = Math.max(worst, Math.abs(v - one[i]!.values[j]!));
    }),
  );
  expect(worst).toBeLessThan(1e-4);
});
