// The sha256 of every output file, computed while the merge runs: a file's hash advances over
// its contiguous finished prefix as slices complete (tensors finish roughly in file order), on
// this thread, which otherwise only dispatches tasks. At the end only what is left (regions
// that no reported slice covered) is read, so the output is never read twice in full.
import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutputLayout } from '@tessera/checkpoint';

const READ = 8 << 20;

class FileHasher {
  private readonly hash: Hash = createHash('sha256');
  /** bytes hashed so far: [0, pos) */
  private pos = 0;
  /** finished ranges beyond pos, by start */
  private readonly ready = new Map<number, number>();
  private handle: Promise<FileHandle> | undefined;
  private failure: unknown;

  constructor(
    private readonly path: string,
    private readonly size: number,
    headerBytes: number,
    private readonly buffer: Uint8Array,
  ) {
    this.done(0, headerBytes);
  }

  /** Bytes [start, end) are final. */
  done(start: number, end: number): void {
    if (end > start) this.ready.set(start, Math.max(end, this.ready.get(start) ?? 0));
  }

  /** The file's sha256, once the rest of it is hashed. */
  async digest(): Promise<string> {
    if (this.failure) throw this.failure;
    await this.hashTo(this.size);
    return this.hash.digest('hex');
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await (await h?.catch(() => undefined))?.close();
  }

  /** Hashes every finished range that extends the prefix (a read error is kept for digest()). */
  async advance(): Promise<void> {
    if (this.failure) return;
    try {
      for (;;) {
        // every finished range that starts inside the hashed prefix extends it
        let end = this.pos;
        for (const [s, e] of this.ready) if (s <= end && e > end) end = e;
        for (const [s, e] of this.ready) if (e <= end) this.ready.delete(s);
        if (end === this.pos) return;
        await this.hashTo(end);
      }
    } catch (e) {
      this.failure = e;
    }
  }

  private async hashTo(end: number): Promise<void> {
    this.handle ??= open(this.path, 'r');
    const fh = await this.handle;
    while (this.pos < end) {
      const { bytesRead } = await fh.read(this.buffer, 0, Math.min(READ, end - this.pos), this.pos);
      if (bytesRead === 0) throw new Error(`${this.path}: ended at byte ${this.pos} while hashing (expected ${this.size} bytes)`);
      this.hash.update(this.buffer.subarray(0, bytesRead));
      this.pos += bytesRead;
    }
  }
}

/**
 * Hashes of the files of one output layout in `dir`, fed with the byte ranges the merge
 * finishes. One read at a time, through one buffer, whatever the number of files.
 */
export class PrefixHasher {
  private readonly files = new Map<string, FileHasher>();
  private chain: Promise<void> = Promise.resolve();

  constructor(dir: string, layout: OutputLayout) {
    const buffer = new Uint8Array(READ);
    for (const f of layout.files) this.files.set(f.name, new FileHasher(join(dir, f.name), f.size, f.header.byteLength, buffer));
  }

  /** Bytes [offset, offset + length) of file `name` hold their final content. */
  finished(name: string, offset: number, length: number): void {
    const f = this.files.get(name);
    if (!f) return;
    f.done(offset, offset + length);
    this.chain = this.chain.then(() => f.advance());
  }

  /** The sha256 of every file, by name (what no finished range covered is read now). */
  async digests(): Promise<Map<string, string>> {
    await this.chain;
    const out = new Map<string, string>();
    for (const [name, f] of this.files) out.set(name, await f.digest());
    return out;
  }

  /** Closes the files (after digests(), or when the job stops). */
  async close(): Promise<void> {
    await this.chain;
    await Promise.all([...this.files.values()].map((f) => f.close()));
  }
}
