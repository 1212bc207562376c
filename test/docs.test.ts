// The documentation follows the code: the README's operator table is generated from the
// operators' declarations, and docs/operators.md describes exactly the declared operators.
import { readFileSync } from 'node:fs';
import { OPERATORS } from '@tessera/tensor';
import { describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';

const read = (f: string) => readFileSync(new URL(`../${f}`, import.meta.url), 'utf8');

describe('operator documentation', () => {
  it('the README table is the one generated from the declarations (npm run docs)', async () => {
    const r = await tessera(['methods', '--markdown']);
    expect(r.code).toBe(0);
    const readme = read('README.md');
    const block = readme.slice(readme.indexOf('-->\n', readme.indexOf('<!-- operators:begin')) + 4, readme.indexOf('<!-- operators:end -->'));
    expect(block).toBe(r.stdout);
    expect(block.split('\n').filter((l) => l.startsWith('| `')).length).toBe(OPERATORS.length);
  });

  it('docs/operators.md has a row for every declared operator and no other', () => {
    const doc = read('docs/operators.md');
    const table = doc.slice(doc.indexOf('| operator | computes | kernel |'), doc.indexOf('\n\n', doc.indexOf('| operator | computes | kernel |')));
    const names = table
      .split('\n')
      .slice(2)
      .flatMap((row) => [...row.split('|')[1]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!));
    expect(names.sort()).toEqual(OPERATORS.map((o) => o.name).sort());
  });
});
