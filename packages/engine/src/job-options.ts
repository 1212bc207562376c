// The options of a merge job, declared once: the CLI's flags (`tessera merge`, `tessera submit`),
// the gRPC request's MergeOptions message and the engine's MergeOptions are all derived from
// these declarations, and values from any of them are validated by the same rules.
import type { MergeOptionsMsg } from '@tessera/protocol';
import { MergeInputError } from './errors.js';
import type { MergeOptions } from './merge.js';

export interface JobOptions {
  sliceMb?: number;
  memoryMb?: number;
  seed?: number;
  shardBytes?: number;
  overwrite: boolean;
  strict: boolean;
  skipMismatched: boolean;
  fsync: boolean;
}

type Value = 'positive-number' | 'non-negative-int' | 'byte-size' | 'flag' | 'negated-flag';

export interface JobOptionSpec {
  key: keyof JobOptions;
  /** the command-line flag (commander syntax) */
  flag: string;
  doc: string;
  value: Value;
  /** the field of the gRPC MergeOptions message */
  wire: keyof MergeOptionsMsg;
  /** for `seed`: the message field that says whether it is set (0 is a seed) */
  presence?: keyof MergeOptionsMsg;
}

export const JOB_OPTIONS: readonly JobOptionSpec[] = [
  { key: 'sliceMb', flag: '--slice-mb <m>', doc: "size of one input's slice in MiB (default: from --memory-mb)", value: 'positive-number', wire: 'slice_mb' },
  { key: 'memoryMb', flag: '--memory-mb <m>', doc: 'memory budget per worker thread in MiB (default 512)', value: 'positive-number', wire: 'memory_mb' },
  { key: 'seed', flag: '--seed <s>', doc: "seed of random masks (overrides the recipe's seed)", value: 'non-negative-int', wire: 'seed', presence: 'has_seed' },
  { key: 'shardBytes', flag: '--shard-size <size>', doc: 'largest output file, e.g. 5GB or 2GiB (default 5GB)', value: 'byte-size', wire: 'shard_bytes' },
  { key: 'overwrite', flag: '--overwrite', doc: 'replace an existing output folder', value: 'flag', wire: 'overwrite' },
  { key: 'strict', flag: '--strict', doc: 'unknown or misplaced recipe keys are errors instead of warnings', value: 'flag', wire: 'strict' },
  {
    key: 'skipMismatched',
    flag: '--skip-mismatched',
    doc: 'task-vector operators leave out a model whose tensor has another shape (a warning), as mergekit does',
    value: 'flag',
    wire: 'skip_mismatched',
  },
  { key: 'fsync', flag: '--no-fsync', doc: 'do not flush the output to disk before publishing it', value: 'negated-flag', wire: 'no_fsync' },
];

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** Parses one option's value from its text (a command-line argument); throws a message on a bad value. */
export function parseOptionText(spec: JobOptionSpec, text: string): number {
  if (spec.value === 'byte-size') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
    const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) throw new Error(`expected a size such as 5GB or 500MiB, got ${text}`);
    return checkOption(spec, Math.floor(Number(m[1]) * unit));
  }
  return checkOption(spec, Number(text));
}

/** Checks a numeric option's value; returns it. */
function checkOption(spec: JobOptionSpec, v: number): number {
  const ok =
    spec.value === 'positive-number'
      ? Number.isFinite(v) && v > 0
      : spec.value === 'non-negative-int' || spec.value === 'byte-size'
        ? Number.isSafeInteger(v) && v >= 0
        : true;
  if (!ok)
    throw new Error(`${spec.flag.split(' ')[0]}: expected ${spec.value === 'positive-number' ? 'a positive number' : 'a non-negative integer'}, got ${v}`);
  if (spec.value === 'byte-size' && v === 0) throw new Error(`${spec.flag.split(' ')[0]}: must be at least 1 byte`);
  return v;
}

/** Job options from a gRPC MergeOptions message (absent message: the defaults); bad values are input errors. */
export function jobOptionsFromWire(msg: MergeOptionsMsg | null | undefined): JobOptions {
  const o: JobOptions = { overwrite: false, strict: false, skipMismatched: false, fsync: true };
  if (!msg) return o;
  for (const spec of JOB_OPTIONS) {
    const raw = msg[spec.wire];
    if (spec.value === 'flag') (o as unknown as Record<string, boolean>)[spec.key] = raw === true;
    else if (spec.value === 'negated-flag') (o as unknown as Record<string, boolean>)[spec.key] = raw !== true;
    else {
      const v = Number(raw);
      const set = spec.presence ? msg[spec.presence] === true : v !== 0;
      if (!set) continue;
      try {
        (o as unknown as Record<string, number>)[spec.key] = checkOption(spec, v);
      } catch (e) {
        throw new MergeInputError(`options.${spec.wire}: ${(e as Error).message.replace(/^[^:]*: /, '')}`);
      }
    }
  }
  return o;
}

/** The gRPC MergeOptions message of job options. */
export function jobOptionsToWire(o: JobOptions): MergeOptionsMsg {
  const msg = {} as Record<string, number | boolean>;
  for (const spec of JOB_OPTIONS) {
    const v = o[spec.key];
    if (spec.value === 'flag') msg[spec.wire] = v === true;
    else if (spec.value === 'negated-flag') msg[spec.wire] = v === false;
    else {
      msg[spec.wire] = typeof v === 'number' ? v : 0;
      if (spec.presence) msg[spec.presence] = typeof v === 'number';
    }
  }
  return msg as unknown as MergeOptionsMsg;
}

/** The engine's merge options for job options. */
export function mergeOptionsOf(
  o: JobOptions,
): Pick<MergeOptions, 'sliceBytes' | 'memoryBytes' | 'seed' | 'shardBytes' | 'overwrite' | 'strict' | 'skipMismatched' | 'fsync'> {
  return {
    ...(positive(o.sliceMb) ? { sliceBytes: o.sliceMb * 2 ** 20 } : {}),
    ...(positive(o.memoryMb) ? { memoryBytes: o.memoryMb * 2 ** 20 } : {}),
    ...(typeof o.seed === 'number' ? { seed: o.seed } : {}),
    ...(positive(o.shardBytes) ? { shardBytes: o.shardBytes } : {}),
    overwrite: o.overwrite,
    strict: o.strict,
    skipMismatched: o.skipMismatched,
    fsync: o.fsync,
  };
}

const positive = (v: number | undefined): v is number => typeof v === 'number' && v > 0;
