import { TesseraError } from '@tessera/tensor';

/**
 * A checkpoint that cannot be used as it is: malformed or hostile safetensors, missing files,
 * inconsistent index. `file` names the file; `tensor` the tensor when one is concerned.
 */
export class CheckpointError extends TesseraError {
  override readonly name = 'CheckpointError';
  readonly kind = 'input';
  constructor(
    readonly file: string,
    message: string,
    readonly tensor?: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${tensor !== undefined ? `tensor ${tensor}: ` : ''}${message}`, options);
  }
}

/** A source could not be read although it may be fine: the network or the server failed (retried). */
export class SourceError extends TesseraError {
  override readonly name = 'SourceError';
  readonly kind = 'io';
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
  }
}

/**
 * An output that cannot be written. `reason` 'exists' (the directory is there and overwriting
 * was not asked for) and 'input' (no output given) are the user's; 'permission' a path this service may not use; 'io'
 * (full disk, permissions of the file system) is the machine's.
 */
export class OutputError extends TesseraError {
  override readonly name = 'OutputError';
  readonly kind: 'input' | 'exists' | 'permission' | 'io';
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown; reason?: 'input' | 'exists' | 'permission' | 'io' },
  ) {
    super(`${path}: ${message}`, options);
    this.kind = options?.reason ?? 'io';
  }
}
