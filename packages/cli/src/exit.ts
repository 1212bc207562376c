// Exit codes: 0 success, 2 bad input (recipe, checkpoint, paths, inputs that do not merge),
// 1 anything else. Errors print as one line; the stack only with --debug.
import { CheckpointError, OutputError } from '@tessera/checkpoint';
import { CancelledError, MergeInputError } from '@tessera/engine';
import { ModelError } from '@tessera/model/errors';
import { RecipeError } from '@tessera/recipe';
import { OperatorError } from '@tessera/tensor';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

/** Errors that usage errors of the command line also map to (commander's own). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function exitCodeOf(e: unknown): number {
  if (e instanceof RecipeError || e instanceof CheckpointError || e instanceof MergeInputError || e instanceof OperatorError || e instanceof UsageError || e instanceof ModelError) return EXIT_BAD_INPUT;
  if (e instanceof OutputError) return e.reason === 'exists' ? EXIT_BAD_INPUT : EXIT_FAILURE;
  if (e instanceof CancelledError) return 130;
  return EXIT_FAILURE;
}

export function describe(e: unknown, debug: boolean): string {
  if (!(e instanceof Error)) return `error: ${String(e)}`;
  if (debug) return e.stack ?? e.message;
  const known = exitCodeOf(e) !== EXIT_FAILURE || e instanceof OutputError;
  return `error: ${known ? e.message : `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}`}`;
}
