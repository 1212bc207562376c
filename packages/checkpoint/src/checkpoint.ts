// A Hugging Face checkpoint folder: config.json, weights as one model.safetensors or shards
// listed by model.safetensors.index.json, tokenizer files. Only headers are read here.
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { fileIn, isRemote, isSynthetic, readTextIfExists } from './location.js';
import type { BlockScale } from './block-scaled.js';
import { CheckpointError } from './errors.js';
import type { TensorEntry } from './header.js';
import { readHeader } from './safetensors.js';
import { openSource } from './source.js';

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';

export interface TensorLocation extends TensorEntry {
  /** the file holding the tensor */
  file: string;
  /** the block scales its stored numbers are multiplied by (scaled FP8 weights, see block-scaled.ts) */
  scale?: BlockScale;
}

export interface Checkpoint {
  /** the folder (or, for a bare .safetensors file, its folder) */
  dir: string;
  /** parsed config.json, when present */
  config: Record<string, unknown> | undefined;
  /** tensors in file order */
  tensors: Map<string, TensorLocation>;
  /** weight files */
  files: string[];
}

/** A JSON file of a checkpoint, or undefined when it does not exist. */
export async function readJsonIfExists(loc: string): Promise<unknown> {
  const text = await readTextIfExists(loc);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(loc, `not valid JSON (${(cause as Error).message})`, undefined, { cause });
  }
}

/**
 * Opens a checkpoint — a local folder (or a single .safetensors file), an http(s) URL of a
 * Hugging Face-style repository, or a synthetic:// model — and validates all its headers.
 */
export async function openCheckpoint(path: string): Promise<Checkpoint> {
  if (!isRemote(path)) {
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new CheckpointError(path, 'no such file or directory');
    if (info.isFile()) return { dir: dirname(path), config: undefined, ...(await loadFiles([path], undefined)) };
  }
  const configPath = fileIn(path, 'config.json');
  const config = await readJsonIfExists(configPath);
  if (config !== undefined && (typeof config !== 'object' || config === null || Array.isArray(config))) {
    throw new CheckpointError(configPath, 'not a JSON object');
  }
  const indexPath = fileIn(path, INDEX_FILE);
  const index = isSynthetic(path) ? undefined : await readJsonIfExists(indexPath);
  if (index !== undefined) {
    const map = parseIndex(indexPath, index);
    const files = [...new Set(map.values())].map((f) => fileIn(path, f));
    return { dir: path, config: config as Record<string, unknown> | undefined, ...(await loadFiles(files, map)) };
  }
  const single = fileIn(path, SINGLE_FILE);
  if (
    isRemote(path) ||
    (await stat(single).then(
      () => true,
      () => false,
    ))
  ) {
    return { dir: path, config: config as Record<string, unknown> | undefined, ...(await loadFiles([single], undefined)) };
  }
  throw new CheckpointError(path, `no ${SINGLE_FILE} or ${INDEX_FILE}`);
}

function parseIndex(indexPath: string, json: unknown): Map<string, string> {
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new CheckpointError(indexPath, 'missing weight_map object');
  }
  const map = new Map<string, string>();
  for (const [tensor, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string' || file !== basename(file) || file === '..' || file === '.' || file === '') {
      throw new CheckpointError(indexPath, `weight_map entry ${JSON.stringify(file)} is not a file name in the checkpoint folder`, tensor);
    }
    map.set(tensor, file);
  }
  return map;
}

async function loadFiles(files: string[], index: Map<string, string> | undefined): Promise<Omit<Checkpoint, 'dir' | 'config'>> {
  const tensors = new Map<string, TensorLocation>();
  for (const file of files) {
    const src = openSource(file);
    try {
      const header = await readHeader(src);
      for (const t of header.tensors) {
        if (index && index.get(t.name) !== file.split('/').pop()) continue;
        if (tensors.has(t.name)) throw new CheckpointError(file, 'tensor appears in two files', t.name);
        tensors.set(t.name, { ...t, file });
      }
    } finally {
      await src.close();
    }
  }
  if (index) {
    for (const [name, file] of index) {
      if (!tensors.has(name)) throw new CheckpointError(file, `listed in ${INDEX_FILE} but not in that file`, name);
    }
  }
  return { tensors, files };
}
