// One error model for every package: each error class has a kind, and the kind alone decides
// the CLI's exit code, the gRPC status, and whether a worker retries the task.

export type ErrorKind = 'input' | 'exists' | 'permission' | 'cancelled' | 'io' | 'internal';

export interface KindTraits {
  /** exit code of the `tessera` command */
  exitCode: number;
  /** gRPC status name (a key of @grpc/grpc-js `status`) */
  grpc: 'INVALID_ARGUMENT' | 'ALREADY_EXISTS' | 'PERMISSION_DENIED' | 'CANCELLED' | 'UNAVAILABLE' | 'INTERNAL';
  /** a task failing so may succeed when delivered again; the others fail their job at once */
  retryable: boolean;
}

export const ERROR_KINDS: Readonly<Record<ErrorKind, KindTraits>> = {
  /** the recipe, a checkpoint, a path or the merge's inputs are wrong */
  input: { exitCode: 2, grpc: 'INVALID_ARGUMENT', retryable: false },
  /** the output is there already and replacing it was not asked for */
  exists: { exitCode: 2, grpc: 'ALREADY_EXISTS', retryable: false },
  /** a path outside what this service may use */
  permission: { exitCode: 2, grpc: 'PERMISSION_DENIED', retryable: false },
  cancelled: { exitCode: 130, grpc: 'CANCELLED', retryable: false },
  /** the machine or the network failed (full disk, HTTP 5xx after retries) */
  io: { exitCode: 1, grpc: 'UNAVAILABLE', retryable: true },
  internal: { exitCode: 1, grpc: 'INTERNAL', retryable: true },
};

/** The base of Tessera's errors: `kind` says whose fault it is and what follows. */
export abstract class TesseraError extends Error {
  abstract readonly kind: ErrorKind;
  get retryable(): boolean {
    return ERROR_KINDS[this.kind].retryable;
  }
}

/** The kind of any error: Tessera's own, or `internal` for anything else. */
export function errorKind(e: unknown): ErrorKind {
  return e instanceof TesseraError ? e.kind : 'internal';
}
