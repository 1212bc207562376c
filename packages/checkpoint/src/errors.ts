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

/**
 * An output that cannot be written. `reason` 'exists' (the directory is there and overwriting
 * was not asked for) is the user's input; 'io' (full disk, permissions) is the machine's.
 */
export class OutputError extends Error {
  override readonly name = 'OutputError';
  constructor(readonly path: string, message: string, options?: { cause?: unknown; reason?: 'exists' | 'io' }) {
    super(`${path}: ${message}`, options);
    this.reason = options?.reason ?? 'io';
  }
  readonly reason: 'exists' | 'io';
}
