// Statistics kernels: per-slice partial results that the host reduces in slice order.
// Sums are float64 per 2^20-element block (slices start on block boundaries), accumulated in
// 4 lanes (element j goes to lane j % 4, in element order), block value (l0 + l1) + (l2 + l3).
import { argF32, argF64, argI32, argPtr } from './args';
import * as S from './generated/slots';
import { CH, ld, ld1 } from './codec';
import { KBernoulli, KNone, KProbs, KTopk, KWindow, KZero, MASK_BERNOULLI, MASK_NONE, MASK_PROBS, MASK_TOPK, MASK_WINDOW, applyMaskK, maskWord } from './mask';
import { GOLDEN, bitsBelow, bits4, laneKey, uniformOf } from './rng';
import { pin } from './pin';

export const BLOCK: i32 = 1 << 20;

// Histogram of the high 16 bits of |x_i - b| (32768 bins) for every model; non-finite
// differences land in bins 0x7f80..0x7fff. Each lane counts into its own copy (runs of equal
// bins would otherwise serialise on one counter); the copies are summed into the first.
// Besides, per high bin, the elements whose low 16 bits are not zero ("impure"): a bin without
// any needs no second pass (differences of 16-bit floats rarely have such bits).
// n is exact (not padded); a hist region holds 4 × 32768 u32, an impure region 32768 u32.
const HI_BINS: usize = 32768;
@inline function histHi<T>(args: usize): void {
  const n = argI32(args, S.HIST_HI_N), nm = argI32(args, S.HIST_HI_NM), bp = argPtr(args, S.HIST_HI_BASE);
  for (let k = 0; k < nm; k++) {
    const each = args + S.HIST_HI_HEAD + <usize>k * S.HIST_HI_EACH;
    const xp = argPtr(each, S.HIST_HI_EACH_PTR);
    const h = argPtr(each, S.HIST_HI_EACH_HIST), imp = argPtr(each, S.HIST_HI_EACH_IMPURE);
    const h1 = h + (HI_BINS << 2), h2 = h + (HI_BINS << 3), h3 = h + 3 * (HI_BINS << 2);
    const full = n & ~3;
    for (let j = 0; j < full; j += 4) {
      const bits = v128.and(f32x4.sub(ld<T>(xp, j), ld<T>(bp, j)), i32x4.splat(0x7fffffff));
      const a = i32x4.shl(i32x4.shr_u(bits, 16), 2);
      const a0 = <usize>i32x4.extract_lane(a, 0), a1 = <usize>i32x4.extract_lane(a, 1);
      const a2 = <usize>i32x4.extract_lane(a, 2), a3 = <usize>i32x4.extract_lane(a, 3);
      let p = h + a0; store<u32>(p, load<u32>(p) + 1);
      p = h1 + a1; store<u32>(p, load<u32>(p) + 1);
      p = h2 + a2; store<u32>(p, load<u32>(p) + 1);
      p = h3 + a3; store<u32>(p, load<u32>(p) + 1);
      const low = v128.and(bits, i32x4.splat(0xffff));
      if (v128.any_true(low)) {
        if (i32x4.extract_lane(low, 0) != 0) { p = imp + a0; store<u32>(p, load<u32>(p) + 1); }
        if (i32x4.extract_lane(low, 1) != 0) { p = imp + a1; store<u32>(p, load<u32>(p) + 1); }
        if (i32x4.extract_lane(low, 2) != 0) { p = imp + a2; store<u32>(p, load<u32>(p) + 1); }
        if (i32x4.extract_lane(low, 3) != 0) { p = imp + a3; store<u32>(p, load<u32>(p) + 1); }
      }
    }
    for (let j = full; j < n; j++) {
      const bits = reinterpret<u32>(ld1<T>(xp, j) - ld1<T>(bp, j)) & 0x7fffffff;
      let p = h + (<usize>(bits >>> 16) << 2);
      store<u32>(p, load<u32>(p) + 1);
      if ((bits & 0xffff) != 0) { p = imp + (<usize>(bits >>> 16) << 2); store<u32>(p, load<u32>(p) + 1); }
    }
    for (let i: usize = 0; i < HI_BINS; i += 4) {
      const o = i << 2;
      v128.store(h + o, i32x4.add(i32x4.add(v128.load(h + o), v128.load(h1 + o)), i32x4.add(v128.load(h2 + o), v128.load(h3 + o))));
    }
  }
}

// Histogram of the low 16 bits of |x_i - b| among elements whose high 16 bits equal bin_i.
// n is exact (not padded).
@inline function histLo<T>(args: usize): void {
  const n = argI32(args, S.HIST_LO_N), nm = argI32(args, S.HIST_LO_NM), bp = argPtr(args, S.HIST_LO_BASE);
  for (let k = 0; k < nm; k++) {
    const each = args + S.HIST_LO_HEAD + <usize>k * S.HIST_LO_EACH;
    const xp = argPtr(each, S.HIST_LO_EACH_PTR);
    const bin = i32x4.splat(argI32(each, S.HIST_LO_EACH_BIN));
    const h = argPtr(each, S.HIST_LO_EACH_HIST);
    // hits without low bits (most of them, for differences of 16-bit floats) are counted in
    // lanes; the others one by one
    let zeros = i32x4.splat(0);
    const full = n & ~3;
    for (let j = 0; j < full; j += 4) {
      const a = v128.and(f32x4.sub(ld<T>(xp, j), ld<T>(bp, j)), i32x4.splat(0x7fffffff));
      const at = i32x4.eq(i32x4.shr_u(a, 16), bin);
      const lo = v128.and(a, i32x4.splat(0xffff));
      const none = i32x4.eq(lo, i32x4.splat(0));
      zeros = i32x4.sub(zeros, v128.and(at, none));
      const hit = v128.andnot(at, none);
      if (!v128.any_true(hit)) continue;
      if (i32x4.extract_lane(hit, 0) != 0) { const p = h + (<usize>i32x4.extract_lane(lo, 0) << 2); store<u32>(p, load<u32>(p) + 1); }
      if (i32x4.extract_lane(hit, 1) != 0) { const p = h + (<usize>i32x4.extract_lane(lo, 1) << 2); store<u32>(p, load<u32>(p) + 1); }
      if (i32x4.extract_lane(hit, 2) != 0) { const p = h + (<usize>i32x4.extract_lane(lo, 2) << 2); store<u32>(p, load<u32>(p) + 1); }
      if (i32x4.extract_lane(hit, 3) != 0) { const p = h + (<usize>i32x4.extract_lane(lo, 3) << 2); store<u32>(p, load<u32>(p) + 1); }
    }
    store<u32>(h, load<u32>(h) + <u32>(i32x4.extract_lane(zeros, 0) + i32x4.extract_lane(zeros, 1) + i32x4.extract_lane(zeros, 2) + i32x4.extract_lane(zeros, 3)));
    for (let j = full; j < n; j += 4) {
      const a = v128.and(f32x4.sub(ld<T>(xp, j), ld<T>(bp, j)), i32x4.splat(0x7fffffff));
      const hit = i32x4.eq(i32x4.shr_u(a, 16), bin);
      if (!v128.any_true(hit)) continue;
      const lo = v128.and(a, i32x4.splat(0xffff));
      if (i32x4.extract_lane(hit, 0) != 0 && j < n) { const p = h + (<usize>i32x4.extract_lane(lo, 0) << 2); store<u32>(p, load<u32>(p) + 1); }
      if (i32x4.extract_lane(hit, 1) != 0 && j + 1 < n) { const p = h + (<usize>i32x4.extract_lane(lo, 1) << 2); store<u32>(p, load<u32>(p) + 1); }
      if (i32x4.extract_lane(hit, 2) != 0 && j + 2 < n) { const p = h + (<usize>i32x4.extract_lane(lo, 2) << 2); store<u32>(p, load<u32>(p) + 1); }
      if (i32x4.extract_lane(hit, 3) != 0 && j + 3 < n) { const p = h + (<usize>i32x4.extract_lane(lo, 3) << 2); store<u32>(p, load<u32>(p) + 1); }
    }
  }
}

@inline function laneAddProduct(acc: usize, x: v128, y: v128): void {
  const xl = f64x2.promote_low_f32x4(x), yl = f64x2.promote_low_f32x4(y);
  const xh = f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 0, 1));
  const yh = f64x2.promote_low_f32x4(v128.shuffle<f32>(y, y, 2, 3, 0, 1));
  v128.store(acc, f64x2.add(v128.load(acc), f64x2.mul(xl, yl)));
  v128.store(acc, f64x2.add(v128.load(acc, 16), f64x2.mul(xh, yh)), 16);
}

@inline function laneFlush(acc: usize, out: usize): void {
  const a = v128.load(acc), b = v128.load(acc, 16);
  store<f64>(out, (f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1)) + (f64x2.extract_lane(b, 0) + f64x2.extract_lane(b, 1)));
  v128.store(acc, f64x2.splat(0));
  v128.store(acc, f64x2.splat(0), 16);
}

// Per block and model: ||d_i||_1 and ||mask(d_i)||_1 (mask as in tvmerge, before scaling).
// n is padded; out holds nBlocks × nm × 2 f64, lanes nm × 2 × 32 bytes; a model block's weight and
// scale are unused.
@inline function l1<T>(args: usize): void {
  const n = argI32(args, S.L1_N), nm = argI32(args, S.L1_NM), bp = argPtr(args, S.L1_BASE), elemStart = <u64>argF64(args, S.L1_ELEM_START);
  const out = argPtr(args, S.L1_OUT), lanes = argPtr(args, S.L1_LANES);
  const models = args + S.L1_HEAD;
  memory.fill(lanes, 0, <usize>nm * 64);
  let block = 0;
  for (let off = 0; off < n; off += CH) {
    const m = min(CH, n - off);
    for (let k = 0; k < nm; k++) {
      const slot = models + <usize>k * S.MODEL_BYTES;
      const xp = argPtr(slot, S.MODEL_PTR) + <usize>off * sizeof<T>();
      const kind = argI32(slot, S.MODEL_MASK_KIND);
      const la = lanes + <usize>k * 64;
      const bo = bp + <usize>off * sizeof<T>();
      const e0 = elemStart + <u64>off;
      if (kind == MASK_NONE) l1Chunk<T, KNone>(slot, xp, bo, la, m, off, e0);
      else if (kind == MASK_TOPK) l1Chunk<T, KTopk>(slot, xp, bo, la, m, off, e0);
      else if (kind == MASK_BERNOULLI) l1Chunk<T, KBernoulli>(slot, xp, bo, la, m, off, e0);
      else if (kind == MASK_WINDOW) l1Chunk<T, KWindow>(slot, xp, bo, la, m, off, e0);
      else if (kind == MASK_PROBS) l1Chunk<T, KProbs>(slot, xp, bo, la, m, off, e0);
      else l1Chunk<T, KZero>(slot, xp, bo, la, m, off, e0);
    }
    if ((off + m) % BLOCK == 0 || off + m >= n) {
      for (let k = 0; k < nm; k++) {
        const o = out + ((<usize>block * nm + k) << 4);
        laneFlush(lanes + <usize>k * 64, o);
        laneFlush(lanes + <usize>k * 64 + 32, o + 8);
      }
      block++;
    }
  }
}

// One chunk of one model: the four f64 lane sums of |d| and |mask(d)| stay in registers.
function l1Chunk<T, K>(slot: usize, xp: usize, bo: usize, la: usize, m: i32, off: i32, e0: u64): void {
  // random masks as in merge.ts's chunks: one key per chunk unless it crosses 2^32 elements
  const oneKey = e0 >>> 32 == (e0 + <u64>(m - 1)) >>> 32;
  if (sizeof<K>() == 4 && !isFloat<K>() && oneKey) l1Loop<T, K, Random>(slot, xp, bo, la, m, off, e0);
  else if (sizeof<K>() == 4 && isFloat<K>() && oneKey) l1Loop<T, K, Probs>(slot, xp, bo, la, m, off, e0);
  else l1Loop<T, K, Masked>(slot, xp, bo, la, m, off, e0);
}

// Compile-time markers of the loop: a random mask (an integer compare), per-element
// probabilities (one key per chunk), or any mask lane by lane.
type Random = u8;
type Probs = u16;
type Masked = i8;

@inline function l1Loop<T, K, L>(slot: usize, xp: usize, bo: usize, la: usize, m: i32, off: i32, e0: u64): void {
  const R = sizeof<L>() == 1 && !isSigned<L>(), P = sizeof<L>() == 2;
  const mk = slot + S.MODEL_M0;
  const w0 = maskWord(mk, 0), w1 = maskWord(mk, 1), pv = f32x4.splat(argF32(slot, S.MODEL_M2));
  let a0 = v128.load(la), a1 = v128.load(la, 16), b0 = v128.load(la, 32), b1 = v128.load(la, 48);
  const key = i32x4.splat(R || P ? laneKey(e0, w0, w1) : 0);
  const probs = P ? argPtr(slot, S.MODEL_M2) + (<usize>off << 2) : 0;
  const below = i32x4.splat(R ? bitsBelow(argF32(slot, S.MODEL_M2)) : 0);
  let loG = i32x4.mul(i32x4.add(i32x4.splat(<i32><u32>e0), i32x4(0, 1, 2, 3)), i32x4.splat(GOLDEN));
  const pKey = pin(0, key), pBelow = pin(1, below), pStep = pin(2, i32x4.splat(GOLDEN << 2));
  for (let j = 0; j < m; j += 4) {
    const d = f32x4.sub(ld<T>(xp, j), ld<T>(bo, j));
    const ad = f32x4.abs(d);
    let masked: v128;
    if (R) {
      masked = v128.and(d, i32x4.lt_s(bits4(loG, v128.load(pKey)), v128.load(pBelow)));
      loG = i32x4.add(loG, v128.load(pStep));
    } else if (P) {
      masked = v128.and(d, f32x4.lt(uniformOf(bits4(loG, v128.load(pKey))), v128.load(probs + (<usize>j << 2))));
      loG = i32x4.add(loG, v128.load(pStep));
    } else {
      masked = applyMaskK<K>(mk, d, e0 + <u64>j, off + j, w0, w1, pv);
    }
    const am = f32x4.abs(masked);
    a0 = f64x2.add(a0, f64x2.promote_low_f32x4(ad));
    a1 = f64x2.add(a1, f64x2.promote_low_f32x4(v128.shuffle<f32>(ad, ad, 2, 3, 0, 1)));
    b0 = f64x2.add(b0, f64x2.promote_low_f32x4(am));
    b1 = f64x2.add(b1, f64x2.promote_low_f32x4(v128.shuffle<f32>(am, am, 2, 3, 0, 1)));
  }
  v128.store(la, a0); v128.store(la, a1, 16); v128.store(la, b0, 32); v128.store(la, b1, 48);
}

// Per block: dot products v_i . v_j for i <= j (row-major upper triangle), v_i = x_i (mode 0)
// or x_i - b (mode 1).
// n is padded; scratch holds nv × CH f32, lanes nq × 32 bytes.
@inline function gram<T>(args: usize): void {
  const n = argI32(args, S.GRAM_N), nv = argI32(args, S.GRAM_NV), mode = argI32(args, S.GRAM_MODE), bp = argPtr(args, S.GRAM_BASE);
  const out = argPtr(args, S.GRAM_OUT), scr = argPtr(args, S.GRAM_SCRATCH), lanes = argPtr(args, S.GRAM_LANES);
  const vecs = args + S.GRAM_HEAD;
  const nq = (nv * (nv + 1)) >> 1;
  memory.fill(lanes, 0, <usize>nq * 32);
  let block = 0;
  for (let off = 0; off < n; off += CH) {
    const m = min(CH, n - off);
    for (let k = 0; k < nv; k++) {
      const xp = argPtr(vecs + <usize>k * S.GRAM_EACH, S.GRAM_EACH_PTR) + <usize>off * sizeof<T>();
      const bo = bp + <usize>off * sizeof<T>();
      const v = scr + <usize>k * (<usize>CH << 2);
      for (let j = 0; j < m; j += 4) {
        const x = ld<T>(xp, j);
        v128.store(v + (<usize>j << 2), mode == 1 ? f32x4.sub(x, ld<T>(bo, j)) : x);
      }
    }
    let q = 0;
    for (let a = 0; a < nv; a++) {
      for (let b = a; b < nv; b++) {
        const va = scr + <usize>a * (<usize>CH << 2), vb = scr + <usize>b * (<usize>CH << 2);
        const la = lanes + <usize>q * 32;
        for (let j = 0; j < m; j += 4) laneAddProduct(la, v128.load(va + (<usize>j << 2)), v128.load(vb + (<usize>j << 2)));
        q++;
      }
    }
    if ((off + m) % BLOCK == 0 || off + m >= n) {
      for (let k = 0; k < nq; k++) laneFlush(lanes + <usize>k * 32, out + ((<usize>block * nq + k) << 3));
      block++;
    }
  }
}

export function hist_hi_bf16(args: usize): void { histHi<u16>(args); }
export function hist_hi_f32(args: usize): void { histHi<f32>(args); }
export function hist_lo_bf16(args: usize): void { histLo<u16>(args); }
export function hist_lo_f32(args: usize): void { histLo<f32>(args); }
export function l1_bf16(args: usize): void { l1<u16>(args); }
export function l1_f32(args: usize): void { l1<f32>(args); }
export function gram_bf16(args: usize): void { gram<u16>(args); }
export function gram_f32(args: usize): void { gram<f32>(args); }
