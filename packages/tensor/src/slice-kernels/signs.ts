// Sign statistics of task vectors, per pair of models: how often two task vectors point the
// same way, and how often the entries a mask keeps (TIES's top-k) point opposite ways, which is
// what TIES's sign election drops. Counts add up over slices.
import type { MaskSpec, StatsResult } from '../kernel-spec.js';
import { MaskState } from '../reference/mask.js';
import type { Round } from '../reference/precision.js';

/** `inputs[0]` is the base; `elemStart` the slice's first element (quotas are consumed in element order). */
export function signs(spec: { masks: MaskSpec[] }, inputs: Float64Array[], n: number, elemStart: number, r: Round): StatsResult {
  const base = inputs[0]!,
    models = inputs.slice(1);
  const k = models.length;
  const masks = spec.masks.map((m) => new MaskState(m));
  const counts = new Float64Array(((k * (k - 1)) / 2) * 4);
  const d = new Float64Array(k);
  const kept = new Uint8Array(k);
  for (let e = 0; e < n; e++) {
    for (let i = 0; i < k; i++) {
      d[i] = r(models[i]![e]! - base[e]!);
      kept[i] = masks[i]!.keep(d[i]!, elemStart + e, e) ? 1 : 0;
    }
    let q = 0;
    for (let i = 0; i < k; i++) {
      for (let j = i + 1; j < k; j++, q += 4) {
        const a = d[i]!,
          b = d[j]!;
        if (a === 0 || b === 0) continue;
        const agree = a > 0 === b > 0;
        counts[q]!++;
        if (agree) counts[q + 1]!++;
        if (kept[i] && kept[j]) {
          counts[q + 2]!++;
          if (!agree) counts[q + 3]!++;
        }
      }
    }
  }
  return { kernel: 'signs', counts };
}
