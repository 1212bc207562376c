// Task descriptors: plain serialisable values that say everything a worker needs (sources,
// byte ranges, dtypes, kernel spec, output position). The function that runs them has no idea
// which executor delivered them.
import type { ErrorKind, FloatDtype, InputRounding, MergeSpec, StatsResult, StatsSpec } from '@tessera/tensor';
import type { ActivationStage } from '@tessera/model';

export interface SliceInput {
  /** the source file */
  uri: string;
  /** byte offset of the slice's first element in the file */
  offset: number;
  dtype: FloatDtype;
  /** block scales of a scaled (FP8) weight: the slice reads the scale rows its elements fall in */
  scale?: TensorScale;
}

export interface TensorScale {
  uri: string;
  /** byte offset of the scale tensor (float32, row-major, [ceil(rows / block[0]), ceil(cols / block[1])]) */
  offset: number;
  /** the weight's columns, and the scale tensor's */
  cols: number;
  scaleCols: number;
  block: [number, number];
}

/** Where a re-quantised FP8 slice (whole block rows) writes its block scales. */
export interface OutputScale {
  uri: string;
  /** byte offset of the slice's first scale row */
  offset: number;
  /** the weight's columns */
  cols: number;
  block: [number, number];
}

interface SliceCommon {
  /** stable id: `<tensor index>/<pass>/<slice>` */
  id: string;
  tensor: string;
  inputs: SliceInput[];
  /** global index of the slice's first element in the tensor */
  elemStart: number;
  n: number;
  rounding: InputRounding;
}

export interface StatsTask extends SliceCommon {
  kind: 'stats';
  spec: StatsSpec;
}

export interface MergeTask extends SliceCommon {
  kind: 'merge';
  spec: MergeSpec;
  out: { uri: string; offset: number; dtype: FloatDtype; scale?: OutputScale };
  /** AIM applied to the merged slice before it is written, with the base's slice */
  aim?: AimParams & { base: { uri: string; offset: number; dtype: FloatDtype } };
}

/**
 * Writes rows of a re-indexed embedding matrix: each output row copies one source row, averages
 * several (or all rows of one source), or is zero. `plan` encodes, per row, a count c then c
 * pairs (source, row); c = -1 means the mean of every row of the source that follows.
 */
export interface GatherTask {
  kind: 'gather';
  id: string;
  sources: { uri: string; offset: number; dtype: FloatDtype; rows: number }[];
  cols: number;
  rows: number;
  plan: number[];
  out: { uri: string; offset: number; dtype: FloatDtype };
}

export interface HashTask {
  kind: 'hash';
  id: string;
  uri: string;
}

/** One stage (a layer, or the head) of the activation-statistics job for one chain of sequences. */
export interface ActivationTask extends ActivationStage {
  kind: 'activations';
  id: string;
}

/**
 * AIM on a slice of a merged tensor, in place: M <- B + (M - B) * r, r per input channel
 * (the last axis) from activation statistics.
 */
export interface AimTask {
  kind: 'aim';
  id: string;
  tensor: string;
  base: { uri: string; offset: number; dtype: FloatDtype };
  /** the merged tensor's slice (read) */
  merged: { uri: string; offset: number; dtype: FloatDtype };
  /** where the result goes (another file: rerunning the task writes the same bytes) */
  out: { uri: string; offset: number };
  elemStart: number;
  n: number;
  aim: AimParams;
}

/** AIM parameters of a tensor */
export interface AimParams {
  /** Arrow statistics file (tessera activations) */
  stats: string;
  omega: number;
  /** length of the last axis (input channels) */
  cols: number;
}

/** A task that does nothing (measuring the dispatch path). */
export interface NoopTask {
  kind: 'noop';
  id: string;
}

export type Task = StatsTask | MergeTask | GatherTask | HashTask | ActivationTask | AimTask | NoopTask;

export interface MergeResult {
  kind: 'merge';
  nonFinite: number;
  firstNonFinite: number;
  inputNonFinite: number;
  firstInputNonFinite: number;
  bytesRead: number;
  bytesWritten: number;
  /** sha256 of the slice's bytes, when the output is the null:// sink */
  digest?: string;
}

/** What a task returns; `ms` is the time it ran on its thread (set by the thread pool's worker). */
export type TaskResult = (
  | { kind: 'stats'; stats: StatsResult; bytesRead: number }
  | MergeResult
  | { kind: 'hash'; sha256: string; size: number }
  | { kind: 'gather'; bytesWritten: number }
  | { kind: 'activations'; tokens: number; bytesWritten: number }
  | { kind: 'aim'; bytesWritten: number }
  | { kind: 'noop' }
) & { ms?: number };

/** An error as it crosses a thread or process boundary: its class name, message and kind. */
export interface WireError {
  name: string;
  message: string;
  kind: ErrorKind;
  fields: Record<string, string | undefined>;
}

/** What a worker returns when a task fails (the error, serialised). */
export interface TaskFailure {
  kind: 'error';
  error: WireError;
}
