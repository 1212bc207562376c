// Atomic publication: a merge writes into a hidden sibling of the output directory and renames
// it into place only when everything is written and hashed. A failed or cancelled job removes
// its temporary directory, so no directory that looks finished ever appears.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { NULL_SINK, isNullSink } from './null-sink.js';
import { OutputError } from '@tessera/checkpoint';

export interface Staging {
  /** the final output directory */
  out: string;
  /** where the files are written until publish */
  tmp: string;
}

/**
 * Checks the output path and creates the temporary directory beside it. With a `key` (a job id)
 * the name is fixed, and an existing one from an interrupted run of the same job is reused.
 */
export async function stage(outPath: string, overwrite: boolean, key?: string): Promise<Staging & { resumed: boolean }> {
  // the null:// sink writes nothing; its work folder (re-indexed embeddings) is a temp one
  if (isNullSink(outPath))
    return { out: NULL_SINK, tmp: join(tmpdir(), `tessera-null-${key ?? `${process.pid}-${randomBytes(4).toString('hex')}`}`), resumed: false };
  const out = resolve(outPath);
  const parent = dirname(out);
  const tmp = join(parent, `.${basename(out)}.tessera-${key ?? `${process.pid}-${randomBytes(4).toString('hex')}`}`);
  const resumed =
    key !== undefined &&
    (await stat(tmp).then(
      (s) => s.isDirectory(),
      () => false,
    ));
  if (resumed) return { out, tmp, resumed };
  const existing = await stat(out).catch(() => undefined);
  if (existing && !overwrite) throw new OutputError(out, 'already exists (pass --overwrite to replace it)', { reason: 'exists' });
  if (existing && !existing.isDirectory()) throw new OutputError(out, 'exists and is not a directory', { reason: 'exists' });
  await mkdir(parent, { recursive: true }).catch((cause: unknown) => {
    throw new OutputError(parent, 'cannot create the parent directory', { cause });
  });
  await mkdir(tmp).catch((cause: unknown) => {
    throw new OutputError(tmp, 'cannot create the temporary output directory', { cause });
  });
  return { out, tmp, resumed };
}

/** Moves the finished temporary directory into place (replacing an existing output). */
export async function publish(s: Staging, fsync: boolean): Promise<void> {
  if (isNullSink(s.out)) return;
  const old = `${s.tmp}.old`;
  const replacing = await stat(s.out).then(
    () => true,
    () => false,
  );
  if (replacing) await rename(s.out, old);
  await rename(s.tmp, s.out);
  if (fsync) await syncDir(dirname(s.out));
  if (replacing) await rm(old, { recursive: true, force: true });
}

export async function discard(s: Staging): Promise<void> {
  if (isNullSink(s.out)) return;
  await rm(s.tmp, { recursive: true, force: true });
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
