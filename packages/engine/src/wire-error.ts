// Errors cross thread and process boundaries as plain objects and come back as the same
// classes, so that callers (and the CLI's exit codes) can still branch on them.
import { CheckpointError, OutputError } from '@tessera/checkpoint';
import { RecipeError } from '@tessera/recipe';
import { OperatorError } from '@tessera/tensor';
import { MergeInputError, TaskError } from './errors.js';

export interface WireError {
  name: string;
  message: string;
  fields: Record<string, string | undefined>;
}

export function toWire(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e), fields: {} };
  const fields: Record<string, string | undefined> = {};
  for (const k of ['file', 'tensor', 'path', 'reason', 'problem', 'taskId'] as const) {
    const v = (e as unknown as Record<string, unknown>)[k];
    if (typeof v === 'string') fields[k] = v;
  }
  return { name: e.name, message: e.message, fields };
}

/** Rebuilds the error; the message is kept exactly as it was. */
export function fromWire(w: WireError): Error {
  const f = w.fields;
  let e: Error;
  switch (w.name) {
    case 'CheckpointError': e = new CheckpointError(f.file ?? '', '', f.tensor); break;
    case 'OutputError': e = new OutputError(f.path ?? '', '', { reason: f.reason === 'exists' ? 'exists' : 'io' }); break;
    case 'MergeInputError': e = new MergeInputError('', f.tensor); break;
    case 'OperatorError': e = new OperatorError(f.tensor ?? '', ''); break;
    case 'RecipeError': e = new RecipeError(f.file ?? '', f.path ?? '', f.problem ?? ''); break;
    case 'TaskError': e = new TaskError(f.taskId ?? '', ''); break;
    default: e = new Error(''); e.name = w.name;
  }
  e.message = w.message;
  return e;
}
