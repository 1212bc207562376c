// Reading whole tensors of a checkpoint for comparisons in tests.
import { openCheckpoint, openSource } from '@tessera/checkpoint';

export async function tensorBytes(dir: string): Promise<Map<string, { shape: number[]; dtype: string; bytes: Uint8Array }>> {
  const c = await openCheckpoint(dir);
  const out = new Map<string, { shape: number[]; dtype: string; bytes: Uint8Array }>();
  for (const t of c.tensors.values()) {
    const bytes = new Uint8Array(t.byteLength);
    const s = openSource(t.file);
    await s.readInto(t.offset, bytes);
    await s.close();
    out.set(t.name, { shape: t.shape, dtype: t.dtype, bytes });
  }
  return out;
}

export const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
