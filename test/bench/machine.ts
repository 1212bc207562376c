// The machine's limits, measured in the same run as the merges.

/** memcpy bandwidth of one thread: GB copied per second (best of 5, 512 MiB). */
export function memcpyGBps(): number {
  const size = 512 << 20;
  const a = Buffer.alloc(size, 1),
    b = Buffer.alloc(size);
  let best = 0;
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    a.copy(b);
    best = Math.max(best, size / ((performance.now() - t) / 1000) / 1e9);
  }
  return best;
}
