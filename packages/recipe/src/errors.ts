import { TesseraError } from '@tessera/tensor';

/** A recipe problem: `file` and `path` (e.g. `models[1].parameters.density`) locate it. */
export class RecipeError extends TesseraError {
  override readonly name = 'RecipeError';
  readonly kind = 'input';
  constructor(
    readonly file: string,
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${file}: ${path ? `${path}: ` : ''}${problem}`);
  }
}

/** Formats a path of keys and indices as `models[1].parameters.density`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out ? `.${String(k)}` : String(k);
  return out;
}
