import { OPERATORS } from '@tessera/tensor';
import type { Command } from 'commander';
import { table } from '../format.js';
import type { Io } from '../run.js';

export function methodsCommand(program: Command, io: Io): void {
  program
    .command('methods')
    .description('list the merge operators with their parameters and defaults')
    .option('--json', 'print JSON')
    .action((flags: { json?: boolean }) => {
      if (flags.json) {
        io.stdout.write(
          JSON.stringify(
            OPERATORS.map((o) => ({ name: o.name, summary: o.summary, base: o.base, models: o.models, embeddings: o.embeddings, params: o.params })),
          ) + '\n',
        );
        return;
      }
      for (const o of OPERATORS) {
        const base = o.base === 'required' ? 'needs base_model' : o.base === 'optional' ? 'base_model optional' : 'no base_model';
        const count = o.models.max === o.models.min ? `${o.models.min}` : `${o.models.min}${o.models.max ? `-${o.models.max}` : '+'}`;
        io.stdout.write(`${o.name}: ${o.summary} (${base}; ${count} model${count === '1' ? '' : 's'}; embeddings of other sizes: ${o.embeddings})\n`);
        if (o.params.length > 0) {
          const rows = o.params.map((p) => [
            '  ' + p.name,
            p.scope === 'model' ? 'per model' : 'global',
            p.default === undefined ? 'required' : `default ${String(p.default)}`,
            p.doc,
          ]);
          io.stdout.write(table(rows) + '\n');
        }
        io.stdout.write('\n');
      }
    });
}
