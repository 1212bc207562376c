// Model references: local folders, relative to the recipe file (then to the working directory).
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { RecipeError } from './errors.js';
import type { ModelSpec } from './types.js';

/** Resolves a model reference; `where` is its recipe path (for errors). */
export function resolveModel(file: string, ref: string, where: string, recipeDir: string, cwd: string): ModelSpec {
  // http(s) repositories (Hugging Face layout) and synthetic:// models are read by byte ranges
  if (/^(https?|synthetic):\/\//i.test(ref)) return { ref, path: ref, where };
  const candidates = isAbsolute(ref) ? [ref] : [resolve(recipeDir, ref), resolve(cwd, ref)];
  for (const path of candidates) {
    if (existsSync(path)) {
      if (!statSync(path).isDirectory()) throw new RecipeError(file, where, `${ref} is not a model folder`);
      return { ref, path, where };
    }
  }
  if (/[+@]/.test(ref)) {
    throw new RecipeError(file, where, `${ref}: LoRA (+path) and revision (@rev) references need the Hugging Face Hub; download the model and give its folder`);
  }
  const looked = [...new Set(candidates)].join(' or ');
  throw new RecipeError(file, where, `model folder not found: ${ref} (looked in ${looked}; Hub IDs are not fetched: download the model first)`);
}
