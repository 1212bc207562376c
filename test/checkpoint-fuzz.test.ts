import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mutations, readOrReject } from './support/fuzz.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('safetensors reader under hostile input', () => {
  it('ends every mutated zoo checkpoint in a typed error or a correct read', async () => {
    const original = readFileSync(new URL('./fixtures/zoo/base/model.safetensors', import.meta.url));
    const outcomes: Record<string, number> = {};
    const reasons: Record<string, string[]> = {};
    let i = 0;
    for (const m of mutations(original, 1234, 200)) {
      const path = join(dir, `m${i++}.safetensors`);
      writeFileSync(path, m.bytes);
      const started = performance.now();
      const r = await readOrReject(path, m.bytes.byteLength, (e) => {
        (reasons[m.kind] ??= []).push(e.message);
      });
      expect(performance.now() - started, `${m.kind} took too long`).toBeLessThan(5000);
      outcomes[`${m.kind}:${r}`] = (outcomes[`${m.kind}:${r}`] ?? 0) + 1;
      rmSync(path);
    }
    // every kind of mutation was tried, and each kind that must be rejected was
    for (const kind of ['truncate', 'header-length', 'nested-json', 'offsets', 'shape', 'garbage'])
      expect(outcomes[`${kind}:rejected`] ?? 0, kind).toBeGreaterThan(0);
    expect(outcomes['huge-json:read'] ?? 0).toBeGreaterThan(0);
    // random header bytes reach the UTF-8 check (not only the JSON parser)
    expect(reasons.garbage!.filter((m) => /header is not valid UTF-8/.test(m)).length).toBeGreaterThan(0);
  });
});
