// What an operator declares: its parameters with defaults, which inputs it takes, and the
// per-tensor program (stats passes, then per-slice merge specs) that computes one tensor.
import { TesseraError } from '../errors.js';
import type { MergeSpec, StatsResult, StatsSpec } from '../kernel-spec.js';

export type ParamValue = number | boolean;

export type Slicing = 'block' | 'row' | 'whole';

export interface ParamSpec {
  name: string;
  /** 'model': may differ per model (looked up at the model level first); 'global': one value per tensor */
  scope: 'global' | 'model';
  type: 'number' | 'boolean';
  /** absent: the parameter is required */
  default?: ParamValue;
  /** accepted range of a number, e.g. density in (0, 1] */
  range?: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean };
  doc: string;
}

export interface ProgramInput {
  role: 'base' | 'model';
  /** index of the model in the recipe's model list (keys random masks); -1 for the base */
  model: number;
  /** resolved per-model parameters */
  params: Readonly<Record<string, ParamValue>>;
}

export interface SliceRange {
  /** global index of the slice's first element */
  elemStart: number;
  n: number;
}

export interface TensorContext {
  name: string;
  shape: readonly number[];
  numel: number;
  /** inputs in kernel order: the base first when the operator uses one */
  inputs: readonly ProgramInput[];
  /** resolved global parameters */
  params: Readonly<Record<string, ParamValue>>;
  seed: number;
  slices: readonly SliceRange[];
}

/** Computes one tensor: zero or more stats passes over all slices, then one merge per slice. */
export interface TensorProgram {
  /** The next stats pass (a spec per slice), or null when the merge specs are ready. */
  nextStats(): ((slice: number) => StatsSpec) | null;
  /** Receives the results of the pass just run, in slice order. */
  reduce(results: StatsResult[]): void;
  merge(slice: number): MergeSpec;
}

/**
 * What an operator does with embedding matrices whose inputs have different numbers of rows (no
 * tokenizer source given): 'base-rows' cuts every input to the base's rows (task vectors need the
 * base's shape), 'common-rows' merges the rows every input has (mergekit's rectify_embed_sizes),
 * 'refuse' is an error that asks for a tokenizer source.
 */
export type EmbeddingRows = 'base-rows' | 'common-rows' | 'refuse';

export interface Operator {
  name: string;
  summary: string;
  embeddings: EmbeddingRows;
  /** whether the operator needs `base_model` */
  base: 'required' | 'optional' | 'none';
  /** the base is an input weighted like the models (linear): it needs the per-model parameters too */
  weighsBase?: boolean;
  /** how many non-base models it accepts */
  models: { min: number; max?: number };
  params: readonly ParamSpec[];
  /**
   * How slices may cut a tensor for these parameters: at any block boundary, only between rows
   * (the last axis: row-local computations), or not at all (column-wise computations).
   */
  slicing(params: Readonly<Record<string, ParamValue>>): Slicing;
  program(ctx: TensorContext): TensorProgram;
}

/** A problem with one tensor that the recipe or the inputs caused (reported with exit 2). */
export class OperatorError extends TesseraError {
  override readonly name = 'OperatorError';
  readonly kind = 'input';
  constructor(
    readonly tensor: string,
    message: string,
  ) {
    super(`tensor ${tensor}: ${message}`);
  }
}

/** A program without stats passes. */
export function direct(merge: (slice: number) => MergeSpec): TensorProgram {
  return { nextStats: () => null, reduce: () => undefined, merge };
}

export const num = (v: ParamValue | undefined): number => Number(v);
export const bool = (v: ParamValue | undefined): boolean => Boolean(v);

/** The declared defaults of an operator's parameters. */
export function defaultParams(op: Operator): Record<string, ParamValue> {
  return Object.fromEntries(op.params.filter((p) => p.default !== undefined).map((p) => [p.name, p.default!]));
}
