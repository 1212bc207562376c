export * from './llama-config.js';
export * from './graph.js';
export * from './llama-graphs.js';
export * from './batch.js';
export * from './weights.js';
export * from './runtime.js';
export * from './forward.js';
