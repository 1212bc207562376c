import { linear } from './linear.js';
import { modelStock } from './model-stock.js';
import { slerp } from './slerp.js';
import { dareLinear, dareTies, taskArithmetic, ties } from './task-vector.js';
import type { Operator } from './types.js';

/** Every merge operator, in the order `tessera methods` lists them. */
export const OPERATORS: readonly Operator[] = [linear, taskArithmetic, ties, dareLinear, dareTies, slerp, modelStock];

export function findOperator(name: string): Operator | undefined {
  return OPERATORS.find((o) => o.name === name);
}
