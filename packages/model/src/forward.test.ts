import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readReferenceLogits } from '../../../test/support/zoo-reference.js';
import { forward } from './forward.js';
import { LlamaRuntime } from './runtime.js';

const ZOO = join(import.meta.dirname, '../../../test/fixtures/zoo');
const open: LlamaRuntime[] = [];
afterAll(async () => {
  await Promise.all(open.map((r) => r.close()));
});

describe.each(['base', 'rev'])('the forward pass of zoo model %s', (model) => {
  it.each([1, 3, 8])('matches the reference logits at every position (batches of %i, right-padded)', async (batchSize) => {
    const ref = await readReferenceLogits(join(ZOO, model, 'reference_logits.safetensors'));
    expect(ref.length).toBe(8);
    const rt = await LlamaRuntime.open(join(ZOO, model));
    open.push(rt);
    const r = await forward(
      rt,
      ref.map((p) => p.ids),
      { batchSize, positions: (i) => ref[i]!.ids.map((_, t) => t) },
    );
    let worst = 0;
    for (const [i, p] of ref.entries()) {
      expect(r.logits[i]!.length).toBe(p.logits.length);
      for (let j = 0; j < p.logits.length; j++) worst = Math.max(worst, Math.abs(r.logits[i]![j]! - p.logits[j]!));
    }
    expect(worst).toBeLessThanOrEqual(1e-3);
  });
});
