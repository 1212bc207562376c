// Loop invariants kept in memory. V8 (Node 20) schedules a pure value that only a loop uses
// into that loop and recomputes it on every iteration: splats, vector constants, even a scalar
// hash of the chunk's key. Read back from memory, such a value costs one load.
const PINS = memory.data(16 << 4, 16);

/** Stores v in pin slot i (0..15) and returns its address, for v128.load inside the loop. */
@inline export function pin(i: i32, v: v128): usize {
  const at = PINS + (<usize>i << 4);
  v128.store(at, v);
  return at;
}
