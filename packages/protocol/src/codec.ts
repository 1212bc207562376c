// Task and result messages on NATS: JSON, with typed arrays tagged so they come back exactly
// (float64 as base64 of their bytes, bit for bit; u32 histograms sparse, as they are mostly 0).
import type { Task, TaskFailure, TaskResult } from './task.js';

type Tagged = { $f64: string } | { $f32: string } | { $u32: number; i: number[]; c: number[] };

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Float64Array) return { $f64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (value instanceof Float32Array) return { $f32: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (value instanceof Uint32Array) {
    const i: number[] = [],
      c: number[] = [];
    value.forEach((v, k) => {
      if (v !== 0) {
        i.push(k);
        c.push(v);
      }
    });
    return { $u32: value.length, i, c };
  }
  return value;
}

function bytesOf(b64: string): ArrayBuffer {
  const buf = Buffer.from(b64, 'base64');
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

function reviver(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const t = value as Partial<Record<string, unknown>>;
  if (typeof t.$f64 === 'string') return new Float64Array(bytesOf(t.$f64));
  if (typeof t.$f32 === 'string') return new Float32Array(bytesOf(t.$f32));
  if (typeof t.$u32 === 'number') {
    const out = new Uint32Array(t.$u32);
    const { i, c } = value as Extract<Tagged, { $u32: number }>;
    i.forEach((k, n) => {
      out[k] = c[n]!;
    });
    return out;
  }
  return value;
}

const enc = new TextEncoder(),
  dec = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return enc.encode(JSON.stringify(value, replacer));
}

export function decodeJson<T>(bytes: Uint8Array): T {
  return JSON.parse(dec.decode(bytes), reviver) as T;
}

/**
 * Task messages carry no typed arrays (masks with per-element probabilities and per-row factors
 * are computed on the worker): plain JSON, without the per-key cost of a replacer or reviver.
 */
export function encodeTask(m: TaskMessage): Uint8Array {
  return enc.encode(JSON.stringify(m));
}

export function decodeTask(bytes: Uint8Array): TaskMessage {
  return JSON.parse(dec.decode(bytes)) as TaskMessage;
}

/** A task on the work queue. */
export interface TaskMessage {
  jobId: string;
  task: Task;
}

/** What a worker reports for one delivery of a task. */
export interface ResultMessage {
  jobId: string;
  taskId: string;
  worker: string;
  /** 1 for the first delivery */
  delivery: number;
  ms: number;
  outcome: TaskResult | TaskFailure;
  /** no more deliveries will follow (success, or the last attempt failed) */
  final: boolean;
}
