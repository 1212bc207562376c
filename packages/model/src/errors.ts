// The error of bad model input (configuration, tensors, tokenizer, task and calibration files),
// in a module of its own so that callers can test for it without loading the runtime.
import { TesseraError } from '@tessera/tensor';

export class ModelError extends TesseraError {
  override readonly name = 'ModelError';
  readonly kind = 'input';
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}
