export { startWorker, type WorkerOptions, type RunningWorker, type WorkerState } from './worker.js';
export { Heartbeat, type WorkerInfo } from './heartbeat.js';
