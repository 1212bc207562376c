// The long fuzz run of the safetensors reader (the test suite runs a short one).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mutations, readOrReject } from '../support/fuzz.js';

export async function fuzzLong(seconds: number): Promise<{ tried: number; read: number; rejected: number; slowestMs: number; kinds: Record<string, number> }> {
  const original = readFileSync(new URL('../fixtures/zoo/base/model.safetensors', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'tessera-fuzz-long-'));
  const path = join(dir, 'm.safetensors');
  const until = performance.now() + seconds * 1000;
  let tried = 0,
    read = 0,
    rejected = 0,
    slowestMs = 0;
  const kinds: Record<string, number> = {};
  try {
    for (let seed = 1; performance.now() < until; seed++) {
      for (const m of mutations(original, seed, 100)) {
        writeFileSync(path, m.bytes);
        const t = performance.now();
        const r = await readOrReject(path, m.bytes.byteLength);
        slowestMs = Math.max(slowestMs, performance.now() - t);
        if (r === 'read') read++;
        else rejected++;
        kinds[m.kind] = (kinds[m.kind] ?? 0) + 1;
        tried++;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { tried, read, rejected, slowestMs, kinds };
}
