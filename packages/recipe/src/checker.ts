import type { Operator, ParamSpec } from '@tessera/tensor';
import { RecipeError, formatPath } from './errors.js';
import { KNOWN_KEYS, type ParamValueInput, coerceBoolean, coerceNumber } from './schema.js';
import { closest } from './suggest.js';
import type { ParamMap } from './values.js';

export type Path = (string | number)[];

export class Checker {
  constructor(
    private readonly file: string,
    private readonly strict: boolean,
    private readonly op: Operator,
    readonly warnings: string[] = [],
  ) {}

  /** Reports a key mergekit would ignore. */
  ignored(path: Path, problem: string): void {
    if (this.strict) throw new RecipeError(this.file, formatPath(path), problem);
    this.warnings.push(`${this.file}: ${formatPath(path)}: ${problem}`);
  }

  keys(obj: Record<string, unknown> | undefined, known: readonly string[], path: Path): void {
    if (!obj) return;
    const params = this.op.params.map((p) => p.name);
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      if (params.includes(key)) {
        this.ignored([...path, key], `unknown key here; ${key} is a parameter of ${this.op.name}: put it under parameters`);
        continue;
      }
      const s = closest(key, [...known, ...params]);
      this.ignored([...path, key], s ? `unknown key, did you mean ${s}?` : 'unknown key');
    }
  }

  /**
   * Checks a parameter map: names known to the operator, values of the right type and range.
   * Returns the map with the known parameters normalised (numbers coerced) and unknown ones dropped.
   */
  params(map: Record<string, unknown> | undefined, path: Path, level: 'model' | 'global'): ParamMap | undefined {
    if (!map) return undefined;
    const out: Record<string, ParamValueInput> = {};
    for (const [key, value] of Object.entries(map)) {
      const spec = this.op.params.find((p) => p.name === key);
      const at = [...path, key];
      if (!spec) {
        const s = closest(key, [...this.op.params.map((p) => p.name), ...KNOWN_KEYS.recipe]);
        this.ignored(
          at,
          s ? `unknown key, did you mean ${s}?` : `unknown key (${this.op.name} takes ${this.op.params.map((p) => p.name).join(', ') || 'no parameters'})`,
        );
        continue;
      }
      if (spec.scope === 'global' && level === 'model') {
        this.ignored(at, `${key} is a global parameter of ${this.op.name}; per-model values are ignored`);
        continue;
      }
      out[key] = this.value(value, spec, at, true);
    }
    return out;
  }

  private value(v: unknown, spec: ParamSpec, path: Path, top: boolean): ParamValueInput {
    if (Array.isArray(v)) {
      if (v.length === 0) throw new RecipeError(this.file, formatPath(path), 'must not be an empty list');
      if (top && v.every((item) => typeof item === 'object' && item !== null && !Array.isArray(item))) {
        return v.map((item: Record<string, unknown>, i) => {
          this.keys(item, KNOWN_KEYS.filter, [...path, i]);
          if (item.filter !== undefined && typeof item.filter !== 'string')
            throw new RecipeError(this.file, formatPath([...path, i, 'filter']), 'must be a string');
          if (!('value' in item)) throw new RecipeError(this.file, formatPath([...path, i, 'value']), 'required');
          return {
            filter: item.filter as string | undefined,
            value: this.value(item.value, spec, [...path, i, 'value'], false) as number | boolean | number[],
          };
        });
      }
      if (spec.type !== 'number') throw new RecipeError(this.file, formatPath(path), `must be true or false, got ${JSON.stringify(v)}`);
      return v.map((item, i) => this.scalar(item, spec, [...path, i]) as number);
    }
    return this.scalar(v, spec, path);
  }

  private scalar(raw: unknown, spec: ParamSpec, path: Path): number | boolean {
    const v = spec.type === 'boolean' ? coerceBoolean(raw) : coerceNumber(raw);
    if (spec.type === 'boolean') {
      if (typeof v !== 'boolean') throw new RecipeError(this.file, formatPath(path), `must be true or false, got ${JSON.stringify(v)}`);
      return v;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RecipeError(this.file, formatPath(path), `must be a number, got ${JSON.stringify(v)}`);
    checkRange(this.file, path, v, spec);
    return v;
  }
}

function checkRange(file: string, path: Path, v: number, spec: ParamSpec): void {
  const r = spec.range;
  if (!r) return;
  const low = r.min === undefined || (r.minExclusive ? v > r.min : v >= r.min);
  const high = r.max === undefined || (r.maxExclusive ? v < r.max : v <= r.max);
  if (low && high) return;
  const lo = r.min === undefined ? '(-inf' : `${r.minExclusive ? '(' : '['}${r.min}`;
  const hi = r.max === undefined ? 'inf)' : `${r.max}${r.maxExclusive ? ')' : ']'}`;
  throw new RecipeError(file, formatPath(path), `must be in ${lo}, ${hi}, got ${v}`);
}
