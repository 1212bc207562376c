// Objective files: weights by expert path or folder name, 1 for the others, clear errors.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { objectiveWeights } from './objective.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-objective-'));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

describe('objective weights', () => {
  it('map experts by path or folder name; the others count 1', () => {
    const models = ['/m/add', '/m/rev', '/m/up'];
    expect(objectiveWeights(file('a.yaml', 'weights:\n  add: 0.5\n  /m/up: 2\n'), models)).toEqual([0.5, 1, 2]);
  });

  it('refuse an unknown expert, a negative weight and a file without weights', () => {
    expect(() => objectiveWeights(file('b.yaml', 'weights: {sort: 1}\n'), ['/m/add'])).toThrow(/b\.yaml: weights\.sort: names none of the experts planned/);
    expect(() => objectiveWeights(file('c.yaml', 'weights: {add: -1}\n'), ['/m/add'])).toThrow(/weights\.add: must be a non-negative number/);
    expect(() => objectiveWeights(file('d.yaml', 'tasks: [add]\n'), ['/m/add'])).toThrow(/d\.yaml: weights: a mapping of experts to weights is required/);
  });
});
