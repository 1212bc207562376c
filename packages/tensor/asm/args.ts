// Kernel arguments arrive as a block of 8-byte f64 slots written by the host. Their offsets are
// generated from kernel-slots.json (generated/slots.ts), the one declaration of every layout.

@inline export function argF64(args: usize, off: usize): f64 {
  return load<f64>(args + off);
}

@inline export function argF32(args: usize, off: usize): f32 {
  return <f32>load<f64>(args + off);
}

@inline export function argI32(args: usize, off: usize): i32 {
  return <i32>load<f64>(args + off);
}

@inline export function argPtr(args: usize, off: usize): usize {
  return <usize>load<f64>(args + off);
}
