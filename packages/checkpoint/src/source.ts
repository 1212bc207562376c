// Byte-range access to checkpoint files. Local paths now; every reader goes through this
// interface so that remote sources can serve the same byte ranges.
import { closeSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { CheckpointError } from './errors.js';
import { HttpFile } from './http-source.js';
import { SyntheticFile } from './synthetic.js';

export interface RangeSource {
  readonly uri: string;
  size(): Promise<number>;
  /** Fills `into` with the bytes at `position`; a short file is an error naming the source. */
  readInto(position: number, into: Uint8Array): Promise<void>;
  /**
   * The same, on the calling thread (present where reading never waits on the network): a worker
   * that reads, merges and writes a slice stripe by stripe keeps each stripe in its own caches.
   */
  readIntoSync?(position: number, into: Uint8Array): void;
  close(): Promise<void>;
}

class LocalFile implements RangeSource {
  private handle: Promise<FileHandle> | undefined;
  private fd: number | undefined;
  constructor(readonly uri: string) {}

  private fh(): Promise<FileHandle> {
    this.handle ??= open(this.uri, 'r').catch((cause: unknown) => {
      this.handle = undefined;
      throw this.cannotOpen(cause);
    });
    return this.handle;
  }

  async size(): Promise<number> {
    return (await (await this.fh()).stat()).size;
  }

  async readInto(position: number, into: Uint8Array): Promise<void> {
    const fh = await this.fh();
    let done = 0;
    while (done < into.byteLength) {
      const { bytesRead } = await fh.read(into, done, into.byteLength - done, position + done);
      if (bytesRead === 0) throw this.truncated(position, into.byteLength, done);
      done += bytesRead;
    }
  }

  readIntoSync(position: number, into: Uint8Array): void {
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.uri, 'r');
      } catch (cause) {
        throw this.cannotOpen(cause);
      }
    }
    let done = 0;
    while (done < into.byteLength) {
      const n = readSync(this.fd, into, done, into.byteLength - done, position + done);
      if (n === 0) throw this.truncated(position, into.byteLength, done);
      done += n;
    }
  }

  private cannotOpen(cause: unknown): CheckpointError {
    const e = cause as NodeJS.ErrnoException;
    return new CheckpointError(this.uri, `cannot open (${e.code ?? e.message})`, undefined, { cause });
  }

  private truncated(position: number, length: number, done: number): CheckpointError {
    return new CheckpointError(this.uri, `unexpected end of file at byte ${position + done} (wanted ${length} bytes at ${position}): truncated file`);
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (h) await (await h).close();
  }
}

/** Opens a checkpoint file: a local path, an http(s) URL, or a synthetic:// location. */
export function openSource(uri: string): RangeSource {
  if (/^https?:\/\//i.test(uri)) return new HttpFile(uri);
  if (uri.startsWith('synthetic://')) return new SyntheticFile(uri);
  return new LocalFile(uri);
}
