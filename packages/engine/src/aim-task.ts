// AIM on slices of merged tensors: relaxation r_j = 1 - I_j (1 - omega), I_j = a_j / max a
// (per tensor), and M <- B + (M - B) * r_j in float32, j the input channel (last axis). Where
// r_j = 1 the merged value is kept bit for bit, so omega = 1 reproduces the operator's output.
// Applied to the merged values as written (in the output dtype), so a recipe's `aim:` and
// `tessera aim` on the plain merge give the same bytes.
import { type RangeSource, writeAt } from '@tessera/checkpoint';
import { type FloatDtype, decode, encode, itemSize } from '@tessera/tensor';
import { MergeInputError } from './errors.js';
import type { AimParams, AimTask, TaskResult } from '@tessera/protocol/task';

// statistics files read on this thread (a few: each job has its own copy), and relaxation
// vectors derived from them
const files = new Map<string, Promise<Map<string, Float64Array>>>();
const relaxations = new Map<string, Float32Array>();
const MAX_FILES = 4;
const MAX_CACHED = 256;

/** the task runner's open sources */
export type OpenSource = (uri: string) => RangeSource;

function relaxation(sums: Float64Array, omega: number): Float32Array {
  let max = 0;
  for (const a of sums) if (a > max) max = a;
  const r = new Float32Array(sums.length);
  for (let j = 0; j < sums.length; j++) r[j] = max > 0 ? 1 - (sums[j]! / max) * (1 - omega) : 1;
  return r;
}

async function relaxationOf(tensor: string, p: AimParams): Promise<Float32Array> {
  const key = `${p.stats}\0${tensor}\0${p.omega}`;
  const hit = relaxations.get(key);
  if (hit) return hit;
  let f = files.get(p.stats);
  if (!f) {
    if (files.size >= MAX_FILES) {
      files.clear();
      relaxations.clear();
    }
    // the statistics reader (Arrow) loads only on threads that apply AIM
    f = import('@tessera/model/stats').then((m) => m.readStats(p.stats)).then((s) => s.sums);
    f.catch(() => files.delete(p.stats));
    files.set(p.stats, f);
  }
  const sums = (await f).get(tensor);
  if (!sums) throw new MergeInputError(`no activation statistics in ${p.stats}`, tensor);
  if (sums.length !== p.cols) throw new MergeInputError(`${p.cols} input channels, but ${sums.length} in ${p.stats}`, tensor);
  if (relaxations.size >= MAX_CACHED) relaxations.clear();
  const r = relaxation(sums, p.omega);
  relaxations.set(key, r);
  return r;
}

async function readSlice(open: OpenSource, at: { uri: string; offset: number; dtype: FloatDtype }, n: number): Promise<Float64Array> {
  const bytes = new Uint8Array(n * itemSize(at.dtype));
  await open(at.uri).readInto(at.offset, bytes);
  return decode(bytes, at.dtype);
}

/** AIM on merged bytes (output dtype) of elements [elemStart, elemStart + n) of `tensor`; returns the new bytes. */
export async function aimBytes(
  open: OpenSource,
  tensor: string,
  merged: Uint8Array,
  dtype: FloatDtype,
  elemStart: number,
  p: AimParams & { base: { uri: string; offset: number; dtype: FloatDtype } },
): Promise<Uint8Array> {
  const n = merged.byteLength / itemSize(dtype);
  const [r, b] = await Promise.all([relaxationOf(tensor, p), readSlice(open, p.base, n)]);
  const m = decode(merged, dtype);
  const f = Math.fround;
  for (let e = 0; e < n; e++) {
    const rj = r[(elemStart + e) % p.cols]!;
    if (rj !== 1) m[e] = f(b[e]! + f(f(m[e]! - b[e]!) * rj));
  }
  return encode(m, dtype);
}

export async function runAim(task: AimTask, open: OpenSource): Promise<TaskResult> {
  const merged = new Uint8Array(task.n * itemSize(task.merged.dtype));
  await open(task.merged.uri).readInto(task.merged.offset, merged);
  const bytes = await aimBytes(open, task.tensor, merged, task.merged.dtype, task.elemStart, { ...task.aim, base: task.base });
  await writeAt(task.out.uri, task.out.offset, bytes);
  return { kind: 'aim', bytesWritten: bytes.byteLength };
}
