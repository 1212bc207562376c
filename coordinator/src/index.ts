export { startCoordinator, type CoordinatorOptions, type RunningCoordinator } from './coordinator.js';
export { NatsExecutor } from './nats-executor.js';
export { startGrpc, type ExtraService, type GrpcOptions } from './grpc-server.js';
export { WorkerRegistry } from './workers.js';
export { modelTaskPool } from './model-pool.js';
export { confineInput } from './confine.js';
