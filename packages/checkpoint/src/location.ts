// Where checkpoint files live: local paths, HTTP(S) URLs in the Hugging Face layout
// (<repo>/resolve/<revision>/<file>), or synthetic:// virtual models.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from './errors.js';
import { httpGetText } from './http-source.js';
import { syntheticText } from './synthetic.js';

export function isUrl(loc: string): boolean {
  return /^https?:\/\//i.test(loc);
}

export function isSynthetic(loc: string): boolean {
  return loc.startsWith('synthetic://');
}

/** A location that is not a local path (read through byte ranges only). */
export function isRemote(loc: string): boolean {
  return isUrl(loc) || isSynthetic(loc);
}

/** The location of a file of a checkpoint folder. */
export function fileIn(dir: string, name: string): string {
  if (isSynthetic(dir)) return `${dir.split('#')[0]}#${name}`;
  if (isUrl(dir)) return /\/resolve\/[^/]+\/?$/.test(dir) ? `${dir.replace(/\/$/, '')}/${name}` : `${dir.replace(/\/$/, '')}/resolve/main/${name}`;
  return join(dir, name);
}

/** A text file's content, or undefined when it does not exist. */
export async function readTextIfExists(loc: string): Promise<string | undefined> {
  if (isSynthetic(loc)) return syntheticText(loc);
  if (isUrl(loc)) return httpGetText(loc);
  try {
    return await readFile(loc, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CheckpointError(loc, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, undefined, { cause: e });
  }
}
