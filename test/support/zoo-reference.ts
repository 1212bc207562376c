// The zoo's reference logits: input ids (I64) and float32 logits per probe.
import { openCheckpoint, openSource } from '@tessera/checkpoint';

export interface ReferenceProbe {
  ids: number[];
  logits: Float32Array;
}

export async function readReferenceLogits(path: string): Promise<ReferenceProbe[]> {
  const ckpt = await openCheckpoint(path);
  const read = async (name: string) => {
    const t = ckpt.tensors.get(name)!;
    const src = openSource(t.file);
    const bytes = new Uint8Array(t.byteLength);
    await src.readInto(t.offset, bytes);
    await src.close();
    return bytes;
  };
  const out: ReferenceProbe[] = [];
  for (let i = 0; ckpt.tensors.has(`input_ids.${i}`); i++) {
    const ids = new BigInt64Array((await read(`input_ids.${i}`)).buffer);
    out.push({ ids: Array.from(ids, Number), logits: new Float32Array((await read(`logits.${i}`)).buffer) });
  }
  return out;
}
