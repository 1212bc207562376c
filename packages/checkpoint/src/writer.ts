// Output files are created at their final size with their header in place; merge tasks then
// write slices with positional writes, in any order, any number of times (idempotent).
import { closeSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { OutputError } from './errors.js';
import type { OutputLayout } from './layout.js';

function outputError(path: string, cause: unknown): OutputError {
  const code = (cause as NodeJS.ErrnoException).code;
  const why = code === 'ENOSPC' ? 'no space left on device' : code === 'EDQUOT' ? 'disk quota exceeded' : (code ?? String(cause));
  return new OutputError(path, `cannot write (${why})`, { cause });
}

/** Creates every output file of the layout in `dir`: header written, data region allocated. */
export async function createOutputFiles(dir: string, layout: OutputLayout): Promise<void> {
  for (const f of layout.files) {
    const path = join(dir, f.name);
    try {
      const fh = await open(path, 'w');
      try {
        await fh.write(f.header, 0, f.header.byteLength, 0);
        await fh.truncate(f.size);
      } finally {
        await fh.close();
      }
    } catch (cause) {
      throw outputError(path, cause);
    }
  }
}

/** An existing output file open for positional writes on the calling thread. */
export class OutputWriter {
  private readonly fd: number;
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'r+');
    } catch (cause) {
      throw outputError(path, cause);
    }
  }

  write(position: number, bytes: Uint8Array): void {
    try {
      for (let done = 0; done < bytes.byteLength; ) done += writeSync(this.fd, bytes, done, bytes.byteLength - done, position + done);
    } catch (cause) {
      throw outputError(this.path, cause);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Writes `bytes` at `position` of an existing output file. */
export async function writeAt(path: string, position: number, bytes: Uint8Array): Promise<void> {
  try {
    const fh = await open(path, 'r+');
    try {
      let done = 0;
      while (done < bytes.byteLength) {
        const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done, position + done);
        done += bytesWritten;
      }
    } finally {
      await fh.close();
    }
  } catch (cause) {
    throw outputError(path, cause);
  }
}

/** Flushes a file to stable storage. */
export async function syncFile(path: string): Promise<void> {
  try {
    const fh = await open(path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (cause) {
    throw outputError(path, cause);
  }
}
