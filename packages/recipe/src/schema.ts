// The recipe schema: mergekit's YAML format plus Tessera's fields. This is the single source of
// the recipe's structure: validation, unknown-key warnings and the docs all read it.
import { TORCH_DTYPE_NAMES } from '@tessera/tensor';
import * as z from 'zod';

const NUMERIC = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
/** A number; YAML 1.1 readers return forms such as `1e-10` as strings, which are coerced. */
const Int = z.preprocess((v) => (typeof v === 'string' && NUMERIC.test(v.trim()) ? Number(v) : v), z.number().int());

const FilterEntry = z.looseObject({
  filter: z.string().optional().describe('substring of the tensor name; absent or "*" matches every tensor'),
  value: z.unknown().describe('a scalar or a gradient'),
});
/**
 * Parameter maps accept any value here: mergekit ignores parameters a method does not declare,
 * whatever their value; the declared ones are checked against the operator's declarations.
 */
const Params = z.record(z.string(), z.unknown());

const ModelRef = z.string().min(1).describe('a local model folder (relative to the recipe file)');
const LayerRange = z.tuple([Int, Int]).describe('[start, end) of the source layers');

const ModelEntry = z.looseObject({
  model: ModelRef,
  parameters: Params.optional().describe('per-model parameters'),
});

const SliceSource = z.looseObject({
  model: ModelRef,
  layer_range: LayerRange,
  parameters: Params.optional(),
});

const Slice = z.looseObject({
  sources: z.array(SliceSource).min(1),
  parameters: Params.optional(),
  base_model: ModelRef.optional(),
  merge_method: z.string().optional().describe("Tessera: this slice's operator (default: the recipe's)"),
});

const Module = z.looseObject({
  models: z.array(ModelEntry).min(1).optional(),
  slices: z.array(Slice).min(1).optional(),
  parameters: Params.optional(),
  base_model: ModelRef.optional(),
});

/** out_dtype naming FP8 output: block-scaled FP8 weights re-quantised with new block scales */
export const FP8_OUT = 'float8_e4m3fn';

const DtypeName = z.string().refine((s) => TORCH_DTYPE_NAMES.includes(s.toLowerCase()), {
  message: `must be one of ${['bfloat16', 'float16', 'float32', 'float64'].join(', ')}`,
});

const ModelTokenSource = z.looseObject({
  kind: z.literal('model_token'),
  model: ModelRef,
  token_id: Int.optional().describe("the row of this id in the model's embeddings"),
  token: z.string().optional().describe("the row of this token in the model's own vocabulary"),
});

const TokenEmbedding = z.looseObject({
  source: z
    .union([z.string(), ModelTokenSource, z.looseObject({ kind: z.literal('zero') })])
    .optional()
    .describe('a model (its row for the same token), {kind: model_token, model, token_id | token}, or {kind: zero}'),
  force: z.boolean().optional().describe('use this row for every model, even those that have the token'),
});

const TokenizerSchema = z.looseObject({
  source: z.string().optional().describe('base, union (default), or a model'),
  tokens: z.record(z.string(), TokenEmbedding).optional().describe('per-token embedding sources'),
  pad_to_multiple_of: Int.optional(),
});

const AimSchema = z.looseObject({
  calibration: z.string().describe('calibration prompts (.jsonl of {"prompt": ...}) or activation statistics (.arrow from tessera activations)'),
  omega: z.number().optional().describe('relaxation ω in [0, 1]: 1 leaves the merge unchanged, 0 fully reverts the most salient channel; default 0.4'),
  chains: Int.optional().describe('chains of calibration sequences run in parallel (default: the workers)'),
});

export const RecipeSchema = z.looseObject({
  merge_method: z.string().describe('the operator (see `tessera methods`)'),
  base_model: ModelRef.optional(),
  models: z.array(ModelEntry).min(1).optional(),
  slices: z.array(Slice).min(1).optional(),
  modules: z.record(z.string(), Module).optional(),
  parameters: Params.optional().describe('global parameters'),
  dtype: DtypeName.optional().describe('dtype the inputs are read in (arithmetic is float32, or float64 for float64)'),
  out_dtype: z
    .string()
    .refine((s) => TORCH_DTYPE_NAMES.includes(s.toLowerCase()) || s.toLowerCase() === FP8_OUT, {
      message: `must be one of ${['bfloat16', 'float16', 'float32', 'float64', FP8_OUT].join(', ')}`,
    })
    .optional()
    .describe(`dtype of the output (default: dtype, else the base's); ${FP8_OUT} re-quantises block-scaled FP8 weights`),
  tokenizer_source: z.string().optional().describe('base, union, or a model'),
  tokenizer: TokenizerSchema.optional(),
  chat_template: z.string().optional().describe('auto (the most common among the inputs), chatml, llama3, alpaca, mistral, or a Jinja template'),
  name: z.string().optional().describe('names an intermediate merge in a multi-document recipe'),
  seed: Int.refine((v) => v >= 0, { message: 'must be a non-negative integer' })
    .optional()
    .describe('Tessera: seed of the random masks (DARE, DELLA); default 0'),
  aim: AimSchema.optional().describe('Tessera: activation-informed merging applied to the result'),
});

export type RecipeDocument = z.infer<typeof RecipeSchema>;
/** A parameter value after validation: scalar, gradient, or filter list. */
export type ParamValueInput = number | boolean | number[] | { filter?: string | undefined; value: number | boolean | number[] }[];

/** YAML 1.1 booleans (PyYAML, hence mergekit, reads `yes`, `on`, ... as booleans). */
export function coerceBoolean(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const s = v.trim().toLowerCase();
  if (['yes', 'on', 'true', 'y'].includes(s)) return true;
  if (['no', 'off', 'false', 'n'].includes(s)) return false;
  return v;
}

/** Numbers written as strings (YAML 1.1 reads `1e-10` so) are numbers. */
export function coerceNumber(v: unknown): unknown {
  return typeof v === 'string' && NUMERIC.test(v.trim()) ? Number(v) : v;
}

/** Known keys of every object of the recipe, by the schema that describes it. */
export const KNOWN_KEYS = {
  recipe: Object.keys(RecipeSchema.shape),
  model: Object.keys(ModelEntry.shape),
  slice: Object.keys(Slice.shape),
  source: Object.keys(SliceSource.shape),
  module: Object.keys(Module.shape),
  tokenizer: Object.keys(TokenizerSchema.shape),
  token: Object.keys(TokenEmbedding.shape),
  modelToken: Object.keys(ModelTokenSource.shape),
  aim: Object.keys(AimSchema.shape),
  filter: Object.keys(FilterEntry.shape),
} as const;
