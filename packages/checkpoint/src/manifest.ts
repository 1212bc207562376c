// tessera-manifest.json: the size and sha256 of every file of a merged model, so that a copy
// can be verified anywhere with `tessera verify`.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from './errors.js';

export const MANIFEST_FILE = 'tessera-manifest.json';

export interface ManifestEntry {
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  tessera: string;
  files: ManifestEntry[];
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 8 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes the manifest of `dir`, given the sha256 of files already hashed (others are hashed here). */
export async function writeManifest(dir: string, version: string, known: Map<string, string> = new Map()): Promise<Manifest> {
  const names = (await readdir(dir)).filter((n) => n !== MANIFEST_FILE).sort();
  const files: ManifestEntry[] = [];
  for (const path of names) {
    const full = join(dir, path);
    const s = await stat(full);
    if (!s.isFile()) continue;
    files.push({ path, size: s.size, sha256: known.get(path) ?? (await sha256File(full)) });
  }
  const manifest = { tessera: version, files };
  await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

export interface VerifyProblem {
  path: string;
  problem: string;
}

/** Re-hashes every file listed in the manifest; returns the problems found (none: intact). */
export async function verifyManifest(dir: string): Promise<{ manifest: Manifest; problems: VerifyProblem[] }> {
  const path = join(dir, MANIFEST_FILE);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(path, 'utf8')) as Manifest;
  } catch (cause) {
    throw new CheckpointError(path, 'missing or unreadable manifest', undefined, { cause });
  }
  if (!Array.isArray(manifest.files)) throw new CheckpointError(path, 'manifest has no file list');
  const problems: VerifyProblem[] = [];
  for (const f of manifest.files) {
    const full = join(dir, f.path);
    const s = await stat(full).catch(() => undefined);
    if (!s) {
      problems.push({ path: f.path, problem: 'missing' });
      continue;
    }
    if (s.size !== f.size) {
      problems.push({ path: f.path, problem: `size ${s.size}, manifest says ${f.size}` });
      continue;
    }
    const h = await sha256File(full);
    if (h !== f.sha256) problems.push({ path: f.path, problem: `sha256 ${h.slice(0, 12)}…, manifest says ${f.sha256.slice(0, 12)}…` });
  }
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const n of await readdir(dir)) if (n !== MANIFEST_FILE && !listed.has(n)) problems.push({ path: n, problem: 'not in the manifest' });
  return { manifest, problems };
}
