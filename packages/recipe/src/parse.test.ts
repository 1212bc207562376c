import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RecipeError } from './errors.js';
import { parseRecipes } from './parse.js';
import { evaluate, gradientAt, lookup } from './values.js';

const zoo = fileURLToPath(new URL('../../../test/fixtures/zoo/', import.meta.url));
const file = `${zoo}recipe.yaml`; // model paths resolve relative to the recipe's folder
const parse = (text: string, strict = false) => parseRecipes(text, file, { strict })[0]!;
const fails = (text: string, strict = false) => {
  try {
    parse(text, strict);
  } catch (e) {
    expect(e).toBeInstanceOf(RecipeError);
    return (e as RecipeError).message.replace(file, 'recipe.yaml');
  }
  throw new Error('expected a RecipeError');
};

const ties = `
merge_method: ties
base_model: base
models:
  - model: add
    parameters: {weight: 1, density: 0.5}
  - model: rev
    parameters: {weight: [1, 0.5], density: 0.2}
parameters: {normalize: true}
dtype: bfloat16
`;

describe('recipe parsing', () => {
  it('parses a mergekit ties recipe', () => {
    const r = parse(ties);
    expect(r.operator.name).toBe('ties');
    expect(r.base?.path).toBe(`${zoo}base`);
    expect(r.slices[0]!.sources.map((s) => s.model.ref)).toEqual(['add', 'rev']);
    expect(r.dtype).toBe('BF16');
    expect(r.warnings).toEqual([]);
    expect(r.seed).toBe(0);
  });
  it('names the path and the problem of a bad value', () => {
    expect(fails(ties.replace('density: 0.2', 'density: 1.5'))).toBe('recipe.yaml: models[1].parameters.density: must be in (0, 1], got 1.5');
    expect(fails(ties.replace('weight: 1,', 'weight: heavy,'))).toBe('recipe.yaml: models[0].parameters.weight: must be a number, got "heavy"');
    expect(fails(ties.replace('normalize: true', 'normalize: 3'))).toBe('recipe.yaml: parameters.normalize: must be true or false, got 3');
    expect(fails(ties.replace('merge_method: ties', 'merge_method: tiez'))).toBe('recipe.yaml: merge_method: unknown method tiez, did you mean ties?');
    expect(fails(ties.replace('base_model: base', 'base_model: nowhere'))).toMatch(/^recipe.yaml: base_model: model folder not found: nowhere/);
    expect(fails(ties.replace('dtype: bfloat16', 'dtype: int4'))).toMatch(/^recipe.yaml: dtype: must be one of bfloat16/);
    expect(fails(ties.replace('parameters: {weight: 1, density: 0.5}', 'parameters: {density: 0.5}'))).toBe(
      'recipe.yaml: models[0].parameters: weight is required by ties',
    );
    expect(fails(ties.replace('base_model: base\n', ''))).toBe('recipe.yaml: base_model: required by ties');
    expect(fails('merge_method: ties\nbase_model: base\nmodels: [{model: add\n')).toMatch(/^recipe.yaml: line \d+, column \d+: invalid YAML/);
  });
  it('warns about keys mergekit ignores, with a suggestion; --strict makes them errors', () => {
    const text = ties.replace('parameters: {normalize: true}', 'parameters: {normalize: true, dype: float16}\ndensity: 0.3\nmodelz: []');
    expect(parse(text).warnings.map((w) => w.replace(file, 'recipe.yaml'))).toEqual([
      'recipe.yaml: density: unknown key here; density is a parameter of ties: put it under parameters',
      'recipe.yaml: modelz: unknown key, did you mean models?',
      'recipe.yaml: parameters.dype: unknown key, did you mean dtype?',
    ]);
    expect(fails(text, true)).toBe('recipe.yaml: density: unknown key here; density is a parameter of ties: put it under parameters');
  });
  it('coerces YAML 1.1 numbers and booleans written as strings', () => {
    const r = parse(ties.replace('density: 0.5', 'density: "5e-1"').replace('normalize: true', 'normalize: yes'));
    expect(r.slices[0]!.sources[0]!.parameters!.density).toBe(0.5);
    expect(r.parameters!.normalize).toBe(true);
  });
  it('checks model counts and required global parameters', () => {
    expect(fails('merge_method: slerp\nbase_model: base\nmodels: [{model: base}, {model: add}]\n')).toBe('recipe.yaml: parameters: t is required by slerp');
    expect(fails('merge_method: slerp\nbase_model: base\nmodels: [{model: add}, {model: rev}]\nparameters: {t: 0.5}\n')).toBe(
      'recipe.yaml: models: slerp takes at most 1 model besides the base, got 2',
    );
    expect(fails('merge_method: model_stock\nbase_model: base\nmodels: [{model: add}]\n')).toBe(
      'recipe.yaml: models: model_stock needs at least 2 models besides the base, got 1',
    );
  });
});

describe('parameter values', () => {
  it('interpolates gradients over anchors', () => {
    expect(gradientAt([0, 1], 0.25)).toBe(0.25);
    expect(gradientAt([1, 0.5, 0], 0.75)).toBe(0.25); // s = 1.5: 0.5 * 0.5 + 0.5 * 0
    expect(gradientAt([2], 0.7)).toBe(2);
    expect(gradientAt([0, 10, 20, 30], 1)).toBe(30);
  });
  it('takes the first matching filter entry, then falls through levels', () => {
    const v = [{ filter: 'self_attn', value: 0.1 }, { filter: 'mlp', value: [0, 1] }, { value: 0.7 }];
    expect(evaluate(v, 'model.layers.3.self_attn.q_proj.weight', 0.5)).toBe(0.1);
    expect(evaluate(v, 'model.layers.3.mlp.up_proj.weight', 0.5)).toBe(0.5);
    expect(evaluate(v, 'model.norm.weight', 0)).toBe(0.7);
    const onlyAttn = [{ filter: 'self_attn', value: 0.1 }];
    expect(lookup([{ w: onlyAttn }, { w: 0.9 }], 'w', 'model.norm.weight', 0)).toBe(0.9);
    expect(lookup([{ w: [{ value: 0.2 }, { filter: 'norm', value: 0.3 }] }], 'w', 'model.norm.weight', 0)).toBe(0.2);
  });
});
