import type { ChatTemplateSpec } from './chat-templates.js';
import type { Operator, WideDtype } from '@tessera/tensor';
import type { ParamMap } from './values.js';

export interface ModelSpec {
  /** the reference as written in the recipe */
  ref: string;
  /** resolved location (absolute path); for a stage's output, `stage:<name>` until it exists */
  path: string;
  /** the name of the earlier document whose output this is (multi-document recipes) */
  stage?: string;
  /** where it appears in the recipe, e.g. `models[2].model` */
  where: string;
}

export interface SourceSpec {
  model: ModelSpec;
  /** [start, end) of source layers; undefined: every layer (the `models:` form) */
  layerRange: [number, number] | undefined;
  parameters: ParamMap | undefined;
  where: string;
}

export interface SliceSpec {
  sources: SourceSpec[];
  parameters: ParamMap | undefined;
  base: ModelSpec | undefined;
  /** the slice's operator (the recipe's unless the slice names its own) */
  operator: Operator;
  where: string;
}

/** Where the embedding row of one token comes from (`tokenizer.tokens`). */
export interface TokenEmbeddingSpec {
  source:
    | { kind: 'zero' }
    | { kind: 'model'; model: ModelSpec }
    | { kind: 'model_token'; model: ModelSpec; tokenId: number | undefined; token: string | undefined }
    | undefined;
  /** every model takes this row, even one that has the token */
  force: boolean;
  where: string;
}

export type TokenizerSource = { kind: 'base' } | { kind: 'union' } | { kind: 'model'; model: ModelSpec };

export interface Recipe {
  file: string;
  /** the YAML text of this document, for the model card */
  text: string;
  name: string | undefined;
  operator: Operator;
  base: ModelSpec | undefined;
  form: 'models' | 'slices';
  slices: SliceSpec[];
  parameters: ParamMap | undefined;
  dtype: WideDtype | undefined;
  /** F8_E4M3: block-scaled FP8 weights are re-quantised (new block scales), the rest written as `dtype` or their merged dtype */
  outDtype: WideDtype | 'F8_E4M3' | undefined;
  tokenizer: { source: TokenizerSource | undefined; padToMultipleOf: number | undefined; tokens: ReadonlyMap<string, TokenEmbeddingSpec> };
  /** the chat template written into tokenizer_config.json */
  chatTemplate: ChatTemplateSpec | undefined;
  seed: number;
  /** activation-informed merging of the result (AIM) */
  aim: AimSpec | undefined;
  warnings: string[];
}

export interface AimSpec {
  /** a calibration .jsonl (statistics computed on the base, cached) or an .arrow statistics file */
  calibration: string;
  omega: number;
  chains: number | undefined;
}
