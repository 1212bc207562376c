// Exit codes come from the error's kind (ERROR_KINDS): 0 success, 2 bad input (recipe,
// checkpoint, paths, inputs that do not merge), 130 cancelled, 1 anything else. Errors print as
// one line; the stack only with --debug.
import { ERROR_KINDS, TesseraError, errorKind } from '@tessera/tensor';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

/** A usage error of the command line (commander's own map to the same code). */
export class UsageError extends TesseraError {
  override readonly name = 'UsageError';
  readonly kind = 'input';
}

export function exitCodeOf(e: unknown): number {
  return ERROR_KINDS[errorKind(e)].exitCode;
}

export function describe(e: unknown, debug: boolean): string {
  if (!(e instanceof Error)) return `error: ${String(e)}`;
  if (debug) return e.stack ?? e.message;
  const known = e instanceof TesseraError;
  return `error: ${known ? e.message : `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}`}`;
}
