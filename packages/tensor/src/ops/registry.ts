import { linear } from './linear.js';
import { modelStock } from './model-stock.js';
import { arceeFusion, nearswap, passthrough, ram, ramplusTl, sce } from './others.js';
import { slerp } from './slerp.js';
import { karcher, multislerp, nuslerp } from './spherical.js';
import { breadcrumbs, breadcrumbsTies, dareLinear, dareTies, della, dellaLinear, taskArithmetic, ties } from './task-vector.js';
import type { Operator } from './types.js';

/** Every merge operator, in the order `tessera methods` lists them. */
export const OPERATORS: readonly Operator[] = [
  linear,
  taskArithmetic,
  ties,
  dareLinear,
  dareTies,
  breadcrumbs,
  breadcrumbsTies,
  della,
  dellaLinear,
  slerp,
  nuslerp,
  multislerp,
  karcher,
  modelStock,
  sce,
  ram,
  ramplusTl,
  nearswap,
  arceeFusion,
  passthrough,
];

export function findOperator(name: string): Operator | undefined {
  return OPERATORS.find((o) => o.name === name);
}
