export { startWorker, type WorkerOptions, type RunningWorker } from './worker.js';
export { Heartbeat, type WorkerInfo } from './heartbeat.js';
