// Loading the MergeService definition (the .proto ships with the package).
import { fileURLToPath } from 'node:url';
import { type GrpcObject, type ServiceClientConstructor, loadPackageDefinition } from '@grpc/grpc-js';
import { type PackageDefinition, loadSync } from '@grpc/proto-loader';

export const MERGE_PROTO = fileURLToPath(new URL('../proto/merge.proto', import.meta.url));
export const PLANNER_PROTO = fileURLToPath(new URL('../proto/planner.proto', import.meta.url));

/** Options shared by server and clients: field names as in the .proto, 64-bit numbers as numbers. */
const LOAD_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true } as const;

export function mergePackageDefinition(): PackageDefinition {
  return loadSync(MERGE_PROTO, LOAD_OPTIONS);
}

export function mergeServiceClient(def = mergePackageDefinition()): ServiceClientConstructor {
  const pkg = loadPackageDefinition(def) as GrpcObject & { tessera: { v1: { MergeService: ServiceClientConstructor } } };
  return pkg.tessera.v1.MergeService;
}

/** Messages of the MergeService, as the loader gives them. */
export interface MergeOptionsMsg {
  slice_mb: number;
  memory_mb: number;
  seed: number;
  has_seed: boolean;
  shard_bytes: number;
  overwrite: boolean;
  strict: boolean;
  skip_mismatched: boolean;
  no_fsync: boolean;
}
export interface SubmitRequestMsg {
  recipe: string;
  output: string;
  options: MergeOptionsMsg | null;
  recipe_dir: string;
}
export interface JobMsg {
  id: string;
  state: string;
  phase: string;
  output: string;
  tensors_done: number;
  tensors_total: number;
  bytes_done: number;
  bytes_total: number;
  error: string;
  created_at: number;
  updated_at: number;
  redeliveries: number;
}
export interface JobEventMsg {
  job_id: string;
  type: string;
  state: string;
  phase: string;
  tensors_done: number;
  tensors_total: number;
  bytes_done: number;
  bytes_total: number;
  gbps: number;
  workers: number;
  message: string;
  time: number;
}
export interface WorkerMsg {
  id: string;
  host: string;
  pool: string;
  threads: number;
  last_seen: number;
  tasks_done: number;
}

export function plannerPackageDefinition(): PackageDefinition {
  return loadSync(PLANNER_PROTO, LOAD_OPTIONS);
}

export function plannerServiceClient(def = plannerPackageDefinition()): ServiceClientConstructor {
  const pkg = loadPackageDefinition(def) as GrpcObject & { tessera: { v1: { PlannerService: ServiceClientConstructor } } };
  return pkg.tessera.v1.PlannerService;
}
