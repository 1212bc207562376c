export * from './errors.js';
export * from './types.js';
export * from './values.js';
export { loadRecipe, parseRecipes, modelsOf, type ParseOptions } from './parse.js';
export { RecipeSchema, KNOWN_KEYS } from './schema.js';
export { closest } from './suggest.js';
export { CHAT_TEMPLATES, type ChatTemplateSpec } from './chat-templates.js';
