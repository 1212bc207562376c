// After the last merge task: config, tokenizer and generation files, index, model card, then
// the manifest (weight files hashed on the executor, in parallel) and an optional fsync.
import { readdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { INDEX_FILE, copyModelFiles, syncFile, writeConfig, writeExtendedTokenizer, writeManifest } from '@tessera/checkpoint';
import { modelCard } from './card.js';
import type { EventSink } from './events.js';
import type { Executor } from './executor.js';
import type { JobPlan } from './plan.js';
import { type Staging, syncDir } from './publish.js';
import { TESSERA_VERSION } from './version.js';

export async function finalise(plan: JobPlan, staging: Staging, exec: Executor, fsync: boolean, emit: EventSink): Promise<string[]> {
  const dir = staging.tmp;
  emit({ type: 'finalise', step: 'metadata' });
  if (plan.config) await writeConfig(dir, plan.config, plan.configOverrides);
  await copyModelFiles(plan.tokenizer.dir, dir);
  if (plan.tokenizer.extra.length > 0) await writeExtendedTokenizer(plan.tokenizer.dir, dir, plan.tokenizer.extra);
  if (plan.layout.index) await writeFile(join(dir, INDEX_FILE), JSON.stringify(plan.layout.index, null, 2) + '\n');
  await writeFile(join(dir, 'README.md'), modelCard(plan, basename(staging.out)));

  emit({ type: 'finalise', step: 'hash' });
  const hashes = new Map<string, string>();
  await Promise.all(plan.layout.files.map(async (f) => {
    const r = await exec.run({ kind: 'hash', id: `hash/${f.name}`, uri: join(dir, f.name) });
    if (r.kind === 'hash') hashes.set(f.name, r.sha256);
  }));
  await writeManifest(dir, TESSERA_VERSION, hashes);

  if (fsync) {
    emit({ type: 'finalise', step: 'sync' });
    for (const name of await readdir(dir)) await syncFile(join(dir, name));
    await syncDir(dir);
  }
  return (await readdir(dir)).sort();
}
