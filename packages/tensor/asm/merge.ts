// Merge kernels: read the inputs of one slice, write the merged slice in the output dtype.
// Every kernel works chunk by chunk (CH elements) with an L1-resident f32 scratch; all
// arithmetic is IEEE f32 in a fixed order that src/reference/ reproduces bit for bit.
import { argF32, argF64, argI32, argPtr, begin } from './args';
import { CH, emit, ld, ld1 } from './codec';
import { applyMask } from './mask';

const MODEL_SLOTS: usize = 10 * 8;

// out = (Σ w_i x_i) [/ div]
// slots: n, nIn, outKind, outPtr, normalize, div, scratch, then nIn × (ptr, weight)
@inline function linear<T>(args: usize): i32 {
  begin(args);
  const n = argI32(), nIn = argI32(), outKind = argI32(), out = argPtr();
  const normalize = argI32() != 0, div = f32x4.splat(argF32());
  const acc = argPtr();
  const models = args + 7 * 8;
  let bad = 0;
  for (let off = 0; off < n; off += CH) {
    const m = min(CH, n - off);
    for (let j = 0; j < m; j += 4) v128.store(acc + (<usize>j << 2), f32x4.splat(0));
    for (let k = 0; k < nIn; k++) {
      const slot = models + <usize>k * 16;
      const xp = <usize>load<f64>(slot) + <usize>off * sizeof<T>();
      const w = f32x4.splat(<f32>load<f64>(slot, 8));
      for (let j = 0; j < m; j += 4) {
        const a = acc + (<usize>j << 2);
        v128.store(a, f32x4.add(v128.load(a), f32x4.mul(w, ld<T>(xp, j))));
      }
    }
    if (normalize) {
      for (let j = 0; j < m; j += 4) {
        const a = acc + (<usize>j << 2);
        v128.store(a, f32x4.div(v128.load(a), div));
      }
    }
    bad += emit(acc, out, off, m, outKind);
  }
  return bad;
}

// Task-vector merge: d_i = x_i - b, masked, scaled (rescale), weighted; combined by sum or by
// TIES sign election; then [/ divisor], * lambda, + b. Returns the non-finite outputs; writes
// the number of non-finite task-vector entries (before masking) into slot 0.
// slots: n, nm, outKind, outPtr, basePtr, elemStart, consensus, normalize, div, lambda,
//        scratch, then nm × (ptr, weight, scale, maskKind, m0..m5)
@inline function tvmerge<T>(args: usize): i32 {
  begin(args);
  const n = argI32(), nm = argI32(), outKind = argI32(), out = argPtr(), bp = argPtr();
  const elemStart = <u64>argF64(), ties = argI32() != 0, normalize = argI32() != 0;
  const div = f32x4.splat(argF32()), lam = f32x4.splat(argF32());
  const scr = argPtr();
  const models = args + 11 * 8;
  const acc = scr + <usize>nm * (<usize>CH << 2);
  const zero = f32x4.splat(0);
  const expMask = i32x4.splat(0x7f800000);
  let bad = 0;
  let badIn = i32x4.splat(0);
  for (let off = 0; off < n; off += CH) {
    const m = min(CH, n - off);
    const bo = bp + <usize>off * sizeof<T>();
    for (let k = 0; k < nm; k++) {
      const slot = models + <usize>k * MODEL_SLOTS;
      const xp = <usize>load<f64>(slot) + <usize>off * sizeof<T>();
      const w = f32x4.splat(<f32>load<f64>(slot, 8));
      const s = f32x4.splat(<f32>load<f64>(slot, 16));
      const kind = <i32>load<f64>(slot, 24);
      const dk = scr + <usize>k * (<usize>CH << 2);
      for (let j = 0; j < m; j += 4) {
        let d = f32x4.sub(ld<T>(xp, j), ld<T>(bo, j));
        badIn = i32x4.sub(badIn, i32x4.eq(v128.and(d, expMask), expMask)); // masks could hide a NaN input
        d = applyMask(kind, slot + 32, d, elemStart + <u64>(off + j), off + j);
        v128.store(dk + (<usize>j << 2), f32x4.mul(f32x4.mul(d, s), w));
      }
    }
    for (let j = 0; j < m; j += 4) {
      const o = <usize>j << 2;
      let r = zero;
      if (ties) {
        let sum = zero;
        for (let k = 0; k < nm; k++) sum = f32x4.add(sum, v128.load(scr + <usize>k * (<usize>CH << 2) + o));
        const pos = f32x4.ge(sum, zero);
        let dsum = zero;
        for (let k = 0; k < nm; k++) {
          const dk = v128.load(scr + <usize>k * (<usize>CH << 2) + o);
          const keep = v128.bitselect(f32x4.gt(dk, zero), f32x4.lt(dk, zero), pos);
          r = f32x4.add(r, v128.and(dk, keep));
          if (normalize) dsum = f32x4.add(dsum, v128.and(f32x4.splat(<f32>load<f64>(models + <usize>k * MODEL_SLOTS, 8)), keep));
        }
        if (normalize) r = f32x4.div(r, v128.bitselect(f32x4.splat(1), dsum, f32x4.eq(dsum, zero)));
      } else {
        for (let k = 0; k < nm; k++) r = f32x4.add(r, v128.load(scr + <usize>k * (<usize>CH << 2) + o));
        if (normalize) r = f32x4.div(r, div);
      }
      v128.store(acc + o, f32x4.add(ld<T>(bo, j), f32x4.mul(r, lam)));
    }
    bad += emit(acc, out, off, m, outKind);
  }
  // the count of non-finite task-vector entries goes back in the first argument slot
  store<f64>(args, <f64>(i32x4.extract_lane(badIn, 0) + i32x4.extract_lane(badIn, 1) + i32x4.extract_lane(badIn, 2) + i32x4.extract_lane(badIn, 3)));
  return bad;
}

// Model stock: out = t * (Σ x_i / N) + (1 - t) * b, with t per tensor or per row.
// slots: n, nm, outKind, outPtr, basePtr, t, tPtr (0: scalar t), rowLen, scratch, then nm × ptr
@inline function stock<T>(args: usize): i32 {
  begin(args);
  const n = argI32(), nm = argI32(), outKind = argI32(), out = argPtr(), bp = argPtr();
  const t0 = argF32(), tPtr = argPtr(), rowLen = argI32(), acc = argPtr();
  const models = args + 9 * 8;
  const nf = f32x4.splat(<f32>nm);
  let bad = 0;
  for (let off = 0; off < n; off += CH) {
    const m = min(CH, n - off);
    for (let j = 0; j < m; j += 4) v128.store(acc + (<usize>j << 2), f32x4.splat(0));
    for (let k = 0; k < nm; k++) {
      const xp = <usize>load<f64>(models + <usize>k * 8) + <usize>off * sizeof<T>();
      for (let j = 0; j < m; j += 4) {
        const a = acc + (<usize>j << 2);
        v128.store(a, f32x4.add(v128.load(a), ld<T>(xp, j)));
      }
    }
    const bo = bp + <usize>off * sizeof<T>();
    if (tPtr == 0) {
      const t = f32x4.splat(t0), u = f32x4.splat(<f32>1 - t0);
      for (let j = 0; j < m; j += 4) {
        const a = acc + (<usize>j << 2);
        const avg = f32x4.div(v128.load(a), nf);
        v128.store(a, f32x4.add(f32x4.mul(t, avg), f32x4.mul(u, ld<T>(bo, j))));
      }
    } else {
      for (let j = 0; j < m; j++) {
        const a = acc + (<usize>j << 2);
        const t = load<f32>(tPtr + (<usize>((off + j) / rowLen) << 2));
        const b = ld1<T>(bo, j);
        store<f32>(a, t * (load<f32>(a) / <f32>nm) + (<f32>1 - t) * b);
      }
    }
    bad += emit(acc, out, off, m, outKind);
  }
  return bad;
}

export function linear_bf16(args: usize): i32 { return linear<u16>(args); }
export function linear_f32(args: usize): i32 { return linear<f32>(args); }
export function tvmerge_bf16(args: usize): i32 { return tvmerge<u16>(args); }
export function tvmerge_f32(args: usize): i32 { return tvmerge<f32>(args); }
export function stock_bf16(args: usize): i32 { return stock<u16>(args); }
export function stock_f32(args: usize): i32 { return stock<f32>(args); }
