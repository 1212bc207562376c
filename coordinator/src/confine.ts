// Confinement of a submitted recipe's paths to the coordinator's roots. Paths are compared as
// real paths (symlinks resolved), so a link inside a root cannot lead outside it: inputs are
// resolved whole; an output's parent is resolved and its last component must not be a link.
import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { OutputError } from '@tessera/checkpoint';

function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** The real path of `path`, resolving the longest existing prefix (the rest does not exist yet). */
async function realPrefix(path: string): Promise<string> {
  const abs = resolve(path);
  const rest: string[] = [];
  for (let p = abs; ; p = dirname(p)) {
    try {
      return join(await realpath(p), ...rest.reverse());
    } catch {
      if (dirname(p) === p) return abs;
      rest.push(basename(p));
    }
  }
}

async function realRoots(roots: string[]): Promise<string[]> {
  return Promise.all(roots.map(realPrefix));
}

function outside(path: string, what: string, roots: string[], real?: string): OutputError {
  const via = real && real !== resolve(path) ? ` (it leads to ${real})` : '';
  return new OutputError(path, `${what} is outside the folders this coordinator may use (${roots.join(', ')})${via}`, { reason: 'permission' });
}

/** A file or folder the job reads. */
export async function confineInput(roots: string[], path: string, what: string): Promise<void> {
  const real = await realPrefix(path);
  if (!(await realRoots(roots)).some((r) => within(r, real))) throw outside(path, what, roots, real);
}

/** The output folder: its parent's real path inside a root, and no link as its last component. */
export async function confineOutput(roots: string[], path: string): Promise<void> {
  const abs = resolve(path);
  const link = await lstat(abs).then(
    (s) => s.isSymbolicLink(),
    () => false,
  );
  if (link) throw new OutputError(path, 'output is a symbolic link; give the folder it points to', { reason: 'permission' });
  const real = join(await realPrefix(dirname(abs)), basename(abs));
  if (!(await realRoots(roots)).some((r) => within(r, real))) throw outside(path, 'output', roots, real);
}
