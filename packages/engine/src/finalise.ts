// After the last merge task: config, tokenizer and generation files, index, model card, then
// the manifest (weight files hashed while they were written, see prefix-hash.ts) and an
// optional fsync.
import { readdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  type ChatTemplate,
  INDEX_FILE,
  copyModelFiles,
  readChatTemplate,
  syncFile,
  writeChatTemplate,
  writeConfig,
  writeExtendedTokenizer,
  writeManifest,
} from '@tessera/checkpoint';
import { modelCard } from './card.js';
import type { EventSink } from './events.js';
import type { JobPlan } from './plan.js';
import type { PrefixHasher } from './prefix-hash.js';
import { type Staging, syncDir } from './publish.js';
import { TESSERA_VERSION } from './version.js';

export async function finalise(plan: JobPlan, staging: Staging, hasher: PrefixHasher, fsync: boolean, emit: EventSink): Promise<string[]> {
  const dir = staging.tmp;
  emit({ type: 'finalise', step: 'metadata' });
  if (plan.config) await writeConfig(dir, plan.config, plan.configOverrides);
  await copyModelFiles(plan.tokenizer.dir, dir);
  if (plan.tokenizer.extra.length > 0) await writeExtendedTokenizer(plan.tokenizer.dir, dir, plan.tokenizer.extra);
  const template = await chatTemplateOf(plan, emit);
  if (template !== undefined) await writeChatTemplate(dir, template);
  if (plan.layout.index) await writeFile(join(dir, INDEX_FILE), JSON.stringify(plan.layout.index, null, 2) + '\n');
  await writeFile(join(dir, 'README.md'), modelCard(plan, basename(staging.out)));

  emit({ type: 'finalise', step: 'hash' });
  await writeManifest(dir, TESSERA_VERSION, await hasher.digests());

  if (fsync) {
    emit({ type: 'finalise', step: 'sync' });
    for (const name of await readdir(dir)) await syncFile(join(dir, name));
    await syncDir(dir);
  }
  return (await readdir(dir)).sort();
}

/**
 * The recipe's chat template: a named or literal one, or (`auto`) the most common among the
 * models merged (ties: the earliest model's), as mergekit chooses it.
 */
async function chatTemplateOf(plan: JobPlan, emit: EventSink): Promise<ChatTemplate | undefined> {
  const spec = plan.recipe.chatTemplate;
  if (!spec) return undefined;
  if (spec.kind === 'template') return spec.template;
  const counts = new Map<string, { template: ChatTemplate; n: number }>();
  for (const dir of plan.models) {
    const t = await readChatTemplate(dir);
    if (t === undefined) continue;
    const key = JSON.stringify(t);
    const c = counts.get(key) ?? { template: t, n: 0 };
    c.n++;
    counts.set(key, c);
  }
  let best: { template: ChatTemplate; n: number } | undefined;
  for (const c of counts.values()) if (!best || c.n > best.n) best = c;
  if (!best) emit({ type: 'warning', message: `${plan.recipe.file}: chat_template: auto, but no model merged has a chat template; the tokenizer's is kept` });
  return best?.template;
}
