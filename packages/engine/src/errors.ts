import { TesseraError } from '@tessera/tensor';

/**
 * The inputs of a merge do not fit together (a tensor missing in one model, shapes that differ,
 * an unsupported dtype) or the merge produced NaN/Inf. `tensor` names the tensor concerned.
 */
export class MergeInputError extends TesseraError {
  override readonly name = 'MergeInputError';
  readonly kind = 'input';
  constructor(
    message: string,
    readonly tensor?: string,
  ) {
    super(tensor !== undefined ? `tensor ${tensor}: ${message}` : message);
  }
}

/** The job was cancelled. */
export class CancelledError extends TesseraError {
  override readonly name = 'CancelledError';
  readonly kind = 'cancelled';
  constructor() {
    super('cancelled');
  }
}
