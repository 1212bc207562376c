// One options model: the flags of `tessera merge` and `tessera submit`, the gRPC message and the
// engine's options come from the same declarations and are validated by the same rules.
import { JOB_OPTIONS, MergeInputError, jobOptionsFromWire, jobOptionsToWire, mergeOptionsOf } from '@tessera/engine';
import { describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';

describe('merge job options', () => {
  it('both commands offer every declared option', async () => {
    for (const cmd of ['merge', 'submit']) {
      const help = (await tessera([cmd, '--help'])).stdout;
      for (const o of JOB_OPTIONS) expect(help, `${cmd} ${o.flag}`).toContain(o.flag.split(' ')[0]);
    }
  });

  it('round-trip through the gRPC message and map to the engine', () => {
    const o = { sliceMb: 2, seed: 0, shardBytes: 2 ** 30, overwrite: true, strict: false, skipMismatched: true, fsync: false };
    const back = jobOptionsFromWire(jobOptionsToWire(o));
    expect(back).toEqual(o);
    expect(mergeOptionsOf(back)).toEqual({
      sliceBytes: 2 * 2 ** 20,
      seed: 0,
      shardBytes: 2 ** 30,
      overwrite: true,
      strict: false,
      skipMismatched: true,
      fsync: false,
    });
    expect(jobOptionsFromWire(null)).toEqual({ overwrite: false, strict: false, skipMismatched: false, fsync: true });
  });

  it('refuse the same bad values on the command line and over gRPC', async () => {
    const wire = { ...jobOptionsToWire({ overwrite: false, strict: false, skipMismatched: false, fsync: true }), slice_mb: -1 };
    expect(() => jobOptionsFromWire(wire)).toThrow(MergeInputError);
    expect(() => jobOptionsFromWire(wire)).toThrow(/options\.slice_mb: expected a positive number, got -1/);
    const r = await tessera(['merge', 'r.yaml', '--out', 'x', '--slice-mb', '-1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--slice-mb.*expected a positive number, got -1/);
    const size = await tessera(['merge', 'r.yaml', '--out', 'x', '--shard-size', '5 parsecs']);
    expect(size.code).toBe(2);
    expect(size.stderr).toMatch(/expected a size such as 5GB/);
  });
});
