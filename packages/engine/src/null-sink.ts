// The null:// output: merge tasks hash their slices instead of writing them (scale tests and
// benchmarks of the scheduling, without storage); the job reports one sha256 over the slices'
// digests in tensor and slice order.
import { createHash } from 'node:crypto';

export const NULL_SINK = 'null://';

export function isNullSink(path: string): boolean {
  return path.startsWith(NULL_SINK);
}

/** Combines slice digests (in order) into the job's digest. */
export function combineDigests(digests: string[]): string {
  const h = createHash('sha256');
  for (const d of digests) h.update(d);
  return h.digest('hex');
}
