import { describe, expect, it } from 'vitest';
import { KernelMemory } from './wasm-memory.js';

describe('KernelMemory.call', () => {
  const head = { n: 0, srcKind: 0, src: 0, round: -1, dstKind: 0, dst: 0 };

  it('packs the head, then each input block, in declared slot order', () => {
    const mem = new KernelMemory();
    const h = { scratch: 0, div: 1, normalize: 0, out: 0, outKind: 0, nIn: 2, n: 0 };
    mem.call('linear_f32', 'linear', {
      head: h,
      each: [
        { weight: 0.5, ptr: 1111 },
        { ptr: 2222, weight: 0.25 },
      ],
    });
    expect([mem.blockSlot('linear', 0, 'ptr'), mem.blockSlot('linear', 0, 'weight')]).toEqual([1111, 0.5]);
    expect([mem.blockSlot('linear', 1, 'ptr'), mem.blockSlot('linear', 1, 'weight')]).toEqual([2222, 0.25]);
  });

  it('names a slot that is not set', () => {
    const { dst: _, ...partial } = head;
    expect(() => new KernelMemory().call('convert', 'convert', { head: partial, each: [] })).toThrow('kernel convert: slot dst is not set');
  });

  it('names a slot that is not declared', () => {
    expect(() => new KernelMemory().call('convert', 'convert', { head: { ...head, extra: 1 }, each: [] })).toThrow('kernel convert: slots not declared: extra');
  });

  it('names the input block of a bad slot', () => {
    const h = { n: 0, nIn: 1, outKind: 0, out: 0, normalize: 0, div: 1, scratch: 0 };
    expect(() => new KernelMemory().call('linear_f32', 'linear', { head: h, each: [{ ptr: 0 }] })).toThrow('kernel linear: slot [0].weight is not set');
  });
});
