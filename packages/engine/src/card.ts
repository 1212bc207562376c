// README.md of a merged model: what was merged, how, and the recipe itself.
import { basename } from 'node:path';
import type { JobPlan } from './plan.js';
import { TESSERA_VERSION } from './version.js';

export function modelCard(plan: JobPlan, outName: string): string {
  const r = plan.recipe;
  const models = plan.models.map((m) => basename(m));
  return [
    '---',
    'library_name: transformers',
    'tags:',
    '- merge',
    '- tessera',
    `base_model:`,
    ...models.map((m) => `- ${m}`),
    '---',
    `# ${outName}`,
    '',
    `Merged with Tessera ${TESSERA_VERSION} using \`${r.operator.name}\`: ${r.operator.summary}`,
    '',
    '## Models',
    '',
    ...(r.base ? [`- base: \`${r.base.ref}\``] : []),
    ...r.slices.flatMap((s) => s.sources.filter((x) => x.model.path !== r.base?.path).map((x) => `- \`${x.model.ref}\``)),
    '',
    '## Recipe',
    '',
    '```yaml',
    r.text.trimEnd(),
    '```',
    '',
    `${plan.tensors.length} tensors, ${plan.layout.files.length} file(s), seed ${plan.tensors[0]?.context.seed ?? r.seed}.`,
    '',
  ].join('\n');
}
