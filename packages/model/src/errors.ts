// The error of bad model input (configuration, tensors, tokenizer, task and calibration files),
// in a module of its own so that callers can test for it without loading the runtime.
export class ModelError extends Error {
  override name = 'ModelError';
  constructor(readonly path: string, problem: string) {
    super(`${path}: ${problem}`);
  }
}
