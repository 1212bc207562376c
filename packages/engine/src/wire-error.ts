// Errors cross thread and process boundaries as plain objects and come back as the same
// classes, with their kind, so that callers (the CLI's exit codes, gRPC statuses, a worker's
// retry decision) still branch on them.
import { CheckpointError, OutputError, SourceError } from '@tessera/checkpoint';
import { ModelError } from '@tessera/model/errors';
import { RecipeError } from '@tessera/recipe/errors';
import { ERROR_KINDS, type ErrorKind, OperatorError, TesseraError, errorKind } from '@tessera/tensor';
import type { WireError } from '@tessera/protocol/task';
import { CancelledError, MergeInputError } from './errors.js';

/** An error of a class this side does not know, rebuilt with its name and kind. */
class RemoteError extends TesseraError {
  constructor(
    override readonly name: string,
    message: string,
    readonly kind: ErrorKind,
  ) {
    super(message);
  }
}

export function toWire(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e), kind: 'internal', fields: {} };
  const fields: Record<string, string | undefined> = {};
  for (const k of ['file', 'tensor', 'path'] as const) {
    const v = (e as unknown as Record<string, unknown>)[k];
    if (typeof v === 'string') fields[k] = v;
  }
  return { name: e.name, message: e.message, kind: errorKind(e), fields };
}

/** Rebuilds the error; the message is kept exactly as it was. */
export function fromWire(w: WireError): Error {
  const f = w.fields;
  const kind: ErrorKind = w.kind in ERROR_KINDS ? w.kind : 'internal';
  let e: Error;
  switch (w.name) {
    case 'CheckpointError':
      e = new CheckpointError(f.file ?? '', '', f.tensor);
      break;
    case 'SourceError':
      e = new SourceError(f.file ?? '', '');
      break;
    case 'OutputError':
      e = new OutputError(f.path ?? '', '', { reason: kind === 'input' || kind === 'exists' || kind === 'permission' ? kind : 'io' });
      break;
    case 'MergeInputError':
      e = new MergeInputError('', f.tensor);
      break;
    case 'OperatorError':
      e = new OperatorError(f.tensor ?? '', '');
      break;
    case 'RecipeError':
      e = new RecipeError(f.file ?? '', f.path ?? '', '');
      break;
    case 'ModelError':
      e = new ModelError(f.path ?? '', '');
      break;
    case 'CancelledError':
      e = new CancelledError();
      break;
    default:
      e = new RemoteError(w.name, '', kind);
  }
  e.message = w.message;
  return e;
}
