/**
 * A checkpoint that cannot be used as it is: malformed or hostile safetensors, missing files,
 * inconsistent index. `file` names the file; `tensor` the tensor when one is concerned.
 */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(readonly file: string, message: string, readonly tensor?: string, options?: { cause?: unknown }) {
    super(`${file}: ${tensor !== undefined ? `tensor ${tensor}: ` : ''}${message}`, options);
  }
}

/** An output that cannot be written (existing directory, full disk, ...). */
export class OutputError extends Error {
  override readonly name = 'OutputError';
  constructor(readonly path: string, message: string, options?: { cause?: unknown }) {
    super(`${path}: ${message}`, options);
  }
}
