export * from './subjects.js';
export * from './codec.js';
export type * from './task.js';
export * from './grpc.js';
export * from './nats.js';
export * from './retry.js';
