import { OPERATORS, type Operator, type ParamSpec } from '@tessera/tensor';
import type { Command } from 'commander';
import { table } from '../format.js';
import type { Io } from '../run.js';

export function methodsCommand(program: Command, io: Io): void {
  program
    .command('methods')
    .description('list the merge operators with their parameters and defaults')
    .option('--json', 'print JSON')
    .option('--markdown', 'print the operator table of the README (generated from the declarations)')
    .action((flags: { json?: boolean; markdown?: boolean }) => {
      if (flags.markdown) {
        io.stdout.write(operatorsMarkdown());
        return;
      }
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

const cell = (s: string) => s.replace(/\|/g, '\\|');

function paramCell(p: ParamSpec): string {
  const d = p.default === undefined ? 'required' : String(p.default);
  return `\`${p.name}\` (${d}${p.scope === 'model' ? ', per model' : ''})`;
}

function operatorRow(o: Operator): string {
  const params = o.params.length > 0 ? o.params.map(paramCell).join(', ') : '—';
  return `| \`${o.name}\` | ${cell(o.summary)} | ${o.base} | ${cell(params)} |`;
}

/** The README's operator table: one row per declared operator, in registry order. */
function operatorsMarkdown(): string {
  return ['| name | what it does | `base_model` | parameters (default) |', '|---|---|---|---|', ...OPERATORS.map(operatorRow)].join('\n') + '\n';
}
