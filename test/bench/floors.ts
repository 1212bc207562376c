// The machine's floors for an end-to-end merge, measured in the same run as the merges: reading
// the inputs from the page cache, writing a new file of the output's size (no fsync), sha256 of
// the output's size on one core, memcpy, and a Node process starting its worker threads.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { memcpyGBps } from './machine.js';

export interface Floors {
  /** GB/s */
  read: number;
  write: number;
  sha256: number;
  memcpy: number;
  /** seconds: a Node process that starts as many empty worker threads as the merge and exits when they have */
  start: number;
}

const CHUNK = 64 << 20;

/** GB/s of reading these files with 64 MiB reads (they are read once before, into the page cache). */
function readGBps(files: string[]): number {
  const buf = Buffer.allocUnsafe(CHUNK);
  const pass = () => {
    let bytes = 0;
    const t = performance.now();
    for (const f of files) {
      const fd = openSync(f, 'r');
      for (let n: number; (n = readSync(fd, buf, 0, CHUNK, null)) > 0; ) bytes += n;
      closeSync(fd);
    }
    return bytes / ((performance.now() - t) / 1000) / 1e9;
  };
  pass();
  return pass();
}

/** GB/s of writing `bytes` into a new file with 64 MiB writes, not synced (removed after). */
function writeGBps(dir: string, bytes: number): number {
  const buf = Buffer.alloc(CHUNK, 7);
  const path = join(dir, 'floor-write.bin');
  const t = performance.now();
  const fd = openSync(path, 'w');
  for (let done = 0; done < bytes; done += CHUNK) writeSync(fd, buf, 0, Math.min(CHUNK, bytes - done));
  closeSync(fd);
  const gbps = bytes / ((performance.now() - t) / 1000) / 1e9;
  rmSync(path);
  return gbps;
}

/** GB/s of sha256 over `bytes` on one core. */
function sha256GBps(bytes: number): number {
  const buf = Buffer.alloc(CHUNK, 3);
  const h = createHash('sha256');
  const t = performance.now();
  for (let done = 0; done < bytes; done += CHUNK) h.update(done + CHUNK <= bytes ? buf : buf.subarray(0, bytes - done));
  h.digest();
  return bytes / ((performance.now() - t) / 1000) / 1e9;
}

/** Median seconds, over 5 runs, of a Node process that starts `workers` empty worker threads and exits when they have. */
function startSeconds(workers: number): number {
  const script = `const { Worker } = require('node:worker_threads'); for (let i = 0; i < ${workers}; i++) new Worker('0', { eval: true });`;
  const runs = Array.from({ length: 5 }, () => {
    const t = performance.now();
    spawnSync(process.execPath, ['-e', script], { stdio: 'ignore' });
    return (performance.now() - t) / 1000;
  }).sort((a, b) => a - b);
  return runs[2]!;
}

export function measureFloors(inputs: string[], dir: string, outputBytes: number, workers: number): Floors {
  return { read: readGBps(inputs), write: writeGBps(dir, outputBytes), sha256: sha256GBps(outputBytes), memcpy: memcpyGBps(), start: startSeconds(workers) };
}

/** Seconds a merge cannot go below on this machine: its inputs read once and its output written once. */
export function floorSeconds(f: Floors, inputBytes: number, outputBytes: number): number {
  return inputBytes / 1e9 / f.read + outputBytes / 1e9 / f.write;
}

/**
 * Seconds of CPU work a merge cannot avoid, shared perfectly by `cores`: per pass over its inputs
 * (kernels at `kernelGBps`, input GB/s each) a page-cache read and the kernel, then the output's
 * sha256 and its write (on this kind of VM a page-cache write is the writing core's work).
 */
export function cpuFloorSeconds(f: Floors, kernelGBps: number[], inputBytes: number, outputBytes: number, cores: number): number {
  const gb = inputBytes / 1e9;
  const passes = kernelGBps.reduce((s, k) => s + gb / f.read + gb / k, 0);
  return (passes + outputBytes / 1e9 / f.sha256 + outputBytes / 1e9 / f.write) / cores;
}
