import { InvalidArgumentError } from 'commander';

export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got ${v}`);
  return n;
}

export function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number >= 0, got ${v}`);
  return n;
}

export function deviceOption(v: string): 'cpu' | 'cuda' {
  if (v !== 'cpu' && v !== 'cuda') throw new InvalidArgumentError(`expected cpu or cuda, got ${v}`);
  return v;
}
