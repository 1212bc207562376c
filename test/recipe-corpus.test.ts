// Every recipe of the corpus (test/recipes: mergekit recipes of many shapes) runs on the zoo
// models and produces a complete, loadable model.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCheckpoint, verifyManifest } from '@tessera/checkpoint';
import { type JobEvent, mergeRecipeFile } from '@tessera/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './support/tmp.js';
import { ensureVocabFixtures } from './support/vocab-fixtures.js';

const corpus = fileURLToPath(new URL('./recipes/', import.meta.url));
const recipes = readdirSync(corpus)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const out = tempDir('corpus');

beforeAll(async () => {
  await ensureVocabFixtures();
});

describe('recipe corpus', () => {
  it('holds at least 15 recipes', () => expect(recipes.length).toBeGreaterThanOrEqual(15));

  for (const file of recipes) {
    it(file, async () => {
      const warnings: string[] = [];
      const dir = join(out, file.replace('.yaml', ''));
      await mergeRecipeFile(join(corpus, file), {
        out: dir,
        workers: 2,
        fsync: false,
        onEvent: (e: JobEvent) => {
          if (e.type === 'warning') warnings.push(e.message);
        },
      });
      const ckpt = await openCheckpoint(dir);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { num_hidden_layers: number; vocab_size: number };
      const layers = file === 'frankenmerge.yaml' ? 6 : 4;
      expect(config.num_hidden_layers).toBe(layers);
      expect(ckpt.tensors.size).toBe(3 + 9 * layers);
      expect(ckpt.tensors.get('model.embed_tokens.weight')!.shape[0]).toBe(config.vocab_size);
      expect((await verifyManifest(dir)).problems).toEqual([]);
      if (file === 'stray-keys.yaml') {
        expect(warnings.map((w) => w.replace(/^.*stray-keys.yaml: /, '')).sort()).toEqual([
          'merge_comment: unknown key',
          'models[0].parameters.densty: unknown key (task_arithmetic takes weight, normalize, rescale, lambda, int8_mask)',
          'parameters.normalise: unknown key, did you mean normalize?',
        ]);
      } else {
        expect(warnings).toEqual([]);
      }
    });
  }
});
