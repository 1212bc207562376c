// Content hashes of checkpoints for caches keyed by what a model is, not where it lies: the
// weight files' sha256, hashed on the executor and remembered by (path, size, mtime).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Checkpoint, isRemote } from '@tessera/checkpoint';
import type { Executor } from './executor.js';

/** Tessera's cache folder: $TESSERA_CACHE_DIR, else ~/.cache/tessera. */
export function cacheDir(): string {
  return process.env.TESSERA_CACHE_DIR ?? join(homedir(), '.cache', 'tessera');
}

/**
 * sha256 over a checkpoint's weight files: their contents, hashed on the executor and remembered in
 * the cache by (path, size, mtime) so that a later merge of the same base does not read it all
 * again; remote files by name and size.
 */
export async function checkpointHash(ckpt: Checkpoint, exec: Executor, signal?: AbortSignal): Promise<string> {
  const memoFile = join(cacheDir(), 'file-hashes.json');
  const memo = await readFile(memoFile, 'utf8')
    .then((t) => JSON.parse(t) as Record<string, string>)
    .catch(() => ({}) as Record<string, string>);
  let added = false;
  const parts = await Promise.all(
    ckpt.files.map(async (f) => {
      if (isRemote(f)) return `${f}:${[...ckpt.tensors.values()].filter((t) => t.file === f).reduce((n, t) => Math.max(n, t.offset + t.byteLength), 0)}`;
      const info = await stat(f);
      const key = `${f}:${info.size}:${info.mtimeMs}`;
      if (memo[key]) return memo[key];
      const r = await exec.run({ kind: 'hash', id: `hash/${f}`, uri: f }, signal);
      if (r.kind !== 'hash') throw new Error(`internal error: hash task returned ${r.kind}`);
      memo[key] = r.sha256;
      added = true;
      return r.sha256;
    }),
  );
  if (added) {
    await mkdir(cacheDir(), { recursive: true });
    const tmp = `${memoFile}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(memo));
    await rename(tmp, memoFile);
  }
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}
