// Kernel arguments arrive as a block of 8-byte f64 slots written by the host (src/wasm.ts).
// Every kernel starts with begin(ptr) and reads its slots in the documented order.
let cursor: usize = 0;

@inline export function begin(ptr: usize): void {
  cursor = ptr;
}

@inline export function argF64(): f64 {
  const v = load<f64>(cursor);
  cursor += 8;
  return v;
}

@inline export function argF32(): f32 {
  return <f32>argF64();
}

@inline export function argI32(): i32 {
  return <i32>argF64();
}

@inline export function argPtr(): usize {
  return <usize>argF64();
}
