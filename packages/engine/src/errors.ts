/**
 * The inputs of a merge do not fit together (a tensor missing in one model, shapes that differ,
 * an unsupported dtype) or the merge produced NaN/Inf. `tensor` names the tensor concerned.
 */
export class MergeInputError extends Error {
  override readonly name = 'MergeInputError';
  constructor(message: string, readonly tensor?: string) {
    super(tensor !== undefined ? `tensor ${tensor}: ${message}` : message);
  }
}

/** A task failed on a worker (I/O error, crash) in a way that is not the input's fault. */
export class TaskError extends Error {
  override readonly name = 'TaskError';
  constructor(readonly taskId: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The job was cancelled. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor() {
    super('cancelled');
  }
}
