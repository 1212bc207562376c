// Merge kernels: read the inputs of one slice, write the merged slice in the output dtype.
// Every kernel works chunk by chunk (CH elements) with an L1-resident f32 scratch; all
// arithmetic is IEEE f32 in a fixed order that src/reference/ reproduces bit for bit.
import { argF32, argF64, argI32, argPtr } from './args';
import * as S from './generated/slots';
import { CH, OUT_BF16, bf16LanesFinite, emit, ld, ld1, nonFinite, nonFiniteBf16 } from './codec';
import { KBernoulli, KNone, KProbs, KTopk, KWindow, KZero, MASK_BERNOULLI, MASK_NONE, MASK_PROBS, MASK_TOPK, MASK_WINDOW, applyMaskK, maskWord } from './mask';
import { GOLDEN, bitsBelow, bits4, laneKey } from './rng';

// out = (Σ w_i x_i) [/ div]
@inline function linear<T>(args: usize): i32 {
  const n = argI32(args, S.LINEAR_N), nIn = argI32(args, S.LINEAR_N_IN), outKind = argI32(args, S.LINEAR_OUT_KIND), out = argPtr(args, S.LINEAR_OUT);
  const normalize = argI32(args, S.LINEAR_NORMALIZE) != 0, div = f32x4.splat(argF32(args, S.LINEAR_DIV));
  const acc = argPtr(args, S.LINEAR_SCRATCH);
  const models = args + S.LINEAR_HEAD;
  let bad = 0;
  for (let off = 0; off < n; off += CH) {
    const m = min(CH, n - off);
    for (let j = 0; j < m; j += 4) v128.store(acc + (<usize>j << 2), f32x4.splat(0));
    for (let k = 0; k < nIn; k++) {
      const slot = models + <usize>k * S.LINEAR_EACH;
      const xp = argPtr(slot, S.LINEAR_EACH_PTR) + <usize>off * sizeof<T>();
      const w = f32x4.splat(argF32(slot, S.LINEAR_EACH_WEIGHT));
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
@inline function tvmerge<T>(args: usize): i32 {
  const n = argI32(args, S.TVMERGE_N), nm = argI32(args, S.TVMERGE_NM), outKind = argI32(args, S.TVMERGE_OUT_KIND);
  const out = argPtr(args, S.TVMERGE_OUT), bp = argPtr(args, S.TVMERGE_BASE);
  const elemStart = <u64>argF64(args, S.TVMERGE_ELEM_START), ties = argI32(args, S.TVMERGE_CONSENSUS) != 0, normalize = argI32(args, S.TVMERGE_NORMALIZE) != 0;
  const div = f32x4.splat(argF32(args, S.TVMERGE_DIV)), lam = f32x4.splat(argF32(args, S.TVMERGE_LAMBDA));
  const scr = argPtr(args, S.TVMERGE_SCRATCH);
  const models = args + S.TVMERGE_HEAD;
  // scratch: nm chunks of weighted deltas (TIES), the accumulator, then the weights as vectors
  const acc = scr + <usize>nm * (<usize>CH << 2);
  const wtab = acc + (<usize>CH << 2);
  for (let k = 0; k < nm; k++) v128.store(wtab + (<usize>k << 4), f32x4.splat(argF32(models + <usize>k * S.MODEL_BYTES, S.MODEL_WEIGHT)));
  let bad = 0;
  let badIn = 0;
  for (let off = 0; off < n; off += CH) {
    const m = min(CH, n - off);
    const bo = bp + <usize>off * sizeof<T>();
    for (let k = 0; k < nm; k++) {
      const slot = models + <usize>k * S.MODEL_BYTES;
      const xp = argPtr(slot, S.MODEL_PTR) + <usize>off * sizeof<T>();
      const w = v128.load(wtab + (<usize>k << 4));
      const s = f32x4.splat(argF32(slot, S.MODEL_SCALE));
      // TIES keeps every model's weighted deltas; the sum adds them up in model order from 0
      const mode = ties ? STORE : k == 0 ? FIRST : ADD;
      const dst = ties ? scr + <usize>k * (<usize>CH << 2) : acc;
      const e0 = elemStart + <u64>off;
      const kind = argI32(slot, S.MODEL_MASK_KIND);
      // one specialised loop per mask kind
      if (kind == MASK_NONE) badIn += deltas<T, KNone>(slot, xp, bo, dst, s, w, m, off, e0, mode);
      else if (kind == MASK_TOPK) badIn += deltas<T, KTopk>(slot, xp, bo, dst, s, w, m, off, e0, mode);
      else if (kind == MASK_BERNOULLI) badIn += deltas<T, KBernoulli>(slot, xp, bo, dst, s, w, m, off, e0, mode);
      else if (kind == MASK_WINDOW) badIn += deltas<T, KWindow>(slot, xp, bo, dst, s, w, m, off, e0, mode);
      else if (kind == MASK_PROBS) badIn += deltas<T, KProbs>(slot, xp, bo, dst, s, w, m, off, e0, mode);
      else badIn += deltas<T, KZero>(slot, xp, bo, dst, s, w, m, off, e0, mode);
    }
    if (outKind == OUT_BF16) {
      // combine, encode bf16 and flag non-finite results in one pass (a non-finite result fails
      // the task, so NaN needs no care in the rounding; the flag also sees overflow to Inf)
      const o16 = out + (<usize>off << 1);
      let flag = i32x4.splat(0);
      for (let j = 0; j < m; j += 8) {
        const r0 = combine<T>(ties, normalize, scr, acc, wtab, nm, bo, j, div, lam);
        const r1 = combine<T>(ties, normalize, scr, acc, wtab, nm, bo, j + 4, div, lam);
        const v = i16x8.narrow_i32x4_u(bf16LanesFinite(r0), bf16LanesFinite(r1));
        flag = v128.or(flag, nonFiniteBf16(v));
        v128.store(o16 + (<usize>j << 1), v);
      }
      if (v128.any_true(flag)) bad += countNonFiniteBf16(o16, m);
    } else {
      for (let j = 0; j < m; j += 4) v128.store(acc + (<usize>j << 2), combine<T>(ties, normalize, scr, acc, wtab, nm, bo, j, div, lam));
      bad += emit(acc, out, off, m, outKind);
    }
  }
  // the count of non-finite task-vector entries goes back in the first argument slot
  store<f64>(args + S.TVMERGE_N, <f64>badIn);
  return bad;
}

// b + lambda * (combined weighted deltas [/ divisor]) for 4 elements at j.
@inline function combine<T>(ties: bool, normalize: bool, scr: usize, acc: usize, wtab: usize, nm: i32, bo: usize, j: i32, div: v128, lam: v128): v128 {
  const o = <usize>j << 2;
  const zero = f32x4.splat(0);
  let r = zero;
  if (ties) {
    let sum = zero;
    for (let k = 0; k < nm; k++) sum = f32x4.add(sum, v128.load(scr + <usize>k * (<usize>CH << 2) + o));
    // d agrees with the elected sign (+ where sum >= 0) when d, its sign flipped where the
    // election is -, is > 0 (zeros and NaN never are)
    const flip = v128.andnot(i32x4.splat(0x80000000), f32x4.ge(sum, zero));
    if (normalize) {
      let dsum = zero;
      for (let k = 0; k < nm; k++) {
        const dk = v128.load(scr + <usize>k * (<usize>CH << 2) + o);
        const keep = f32x4.gt(v128.xor(dk, flip), zero);
        r = f32x4.add(r, v128.and(dk, keep));
        dsum = f32x4.add(dsum, v128.and(v128.load(wtab + (<usize>k << 4)), keep));
      }
      r = f32x4.div(r, v128.bitselect(f32x4.splat(1), dsum, f32x4.eq(dsum, zero)));
    } else {
      for (let k = 0; k < nm; k++) {
        const dk = v128.load(scr + <usize>k * (<usize>CH << 2) + o);
        r = f32x4.add(r, v128.and(dk, f32x4.gt(v128.xor(dk, flip), zero)));
      }
    }
  } else {
    r = v128.load(acc + o);
    if (normalize) r = f32x4.div(r, div);
  }
  return f32x4.add(ld<T>(bo, j), f32x4.mul(r, lam));
}

@inline function laneSum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

const TIES_NONE: i32 = 1; // no tie at the threshold is kept in this chunk
const TIES_ALL: i32 = 2; // every tie at the threshold is kept in this chunk

const STORE: i32 = 0; // dst = d
const FIRST: i32 = 1; // dst = 0 + d
const ADD: i32 = 2; // dst = dst + d

// The weighted, masked task vector of one model over one chunk, stored or accumulated.
// Returns how many of its entries were not finite before masking.
function deltas<T, K>(slot: usize, xp: usize, bo: usize, dst: usize, s: v128, w: v128, m: i32, off: i32, e0: u64, mode: i32): i32 {
  const zero = f32x4.splat(0);
  const mk = slot + S.MODEL_M0;
  const w0 = maskWord(mk, 0), w1 = maskWord(mk, 1), pv = f32x4.splat(argF32(slot, S.MODEL_M2));
  let flag = i32x4.splat(0); // some task-vector entry is NaN/Inf (masks could hide it)
  // without a mask a NaN input reaches the plain sum's result (and fails it): no check needed
  const check = !(sizeof<K>() == 1 && !isFloat<K>());
  // top-k: when the quota of ties is used up, or cannot run out inside this chunk, every lane is
  // decided by one comparison (ties counted as they go) instead of one by one in element order
  const topk = sizeof<K>() == 2 && !isFloat<K>();
  const quotaAt = mk + (<usize>S.MASK_TOPK_QUOTA << 3);
  const remaining = topk ? load<f64>(quotaAt) : 0;
  const whole = topk && (remaining <= 0 || remaining >= <f64>m) ? (remaining > 0 ? TIES_ALL : TIES_NONE) : 0;
  const thr = i32x4.splat(topk ? <i32>load<f64>(mk + (<usize>S.MASK_TOPK_THR << 3)) : 0);
  let ties = i32x4.splat(0);
  // random masks: one key per chunk (unless the chunk crosses 2^32 elements), the index hash
  // advanced by an addition, the uniform compared as an integer
  const random = sizeof<K>() == 4 && !isFloat<K>() && e0 >>> 32 == (e0 + <u64>(m - 1)) >>> 32;
  const key = i32x4.splat(random ? laneKey(e0, w0, w1) : 0);
  const below = i32x4.splat(random ? bitsBelow(argF32(slot, S.MODEL_M2)) : 0);
  let loG = i32x4.mul(i32x4.add(i32x4.splat(<i32><u32>e0), i32x4(0, 1, 2, 3)), i32x4.splat(GOLDEN));
  // window: the same for both quotas (ties at lo dropped, ties at hi kept, each while its quota lasts)
  const win = sizeof<K>() == 8 && !isFloat<K>();
  const dropAt = mk + (<usize>S.MASK_WINDOW_DROP_LO << 3), keepAt = mk + (<usize>S.MASK_WINDOW_KEEP_HI << 3);
  const dropLo = win ? load<f64>(dropAt) : 0, keepHi = win ? load<f64>(keepAt) : 0;
  const winWhole = win && (dropLo <= 0 || dropLo >= <f64>m) && (keepHi <= 0 || keepHi >= <f64>m);
  const dropTies = dropLo > 0, keepTies = keepHi > 0;
  const lo = i32x4.splat(win ? <i32>load<f64>(mk + (<usize>S.MASK_WINDOW_LO << 3)) : 0);
  const hi = i32x4.splat(win ? <i32>load<f64>(mk + (<usize>S.MASK_WINDOW_HI << 3)) : 0);
  let loTies = i32x4.splat(0), hiTies = i32x4.splat(0);
  for (let j = 0; j < m; j += 4) {
    let d = f32x4.sub(ld<T>(xp, j), ld<T>(bo, j));
    if (check || mode == STORE) flag = v128.or(flag, nonFinite(d));
    if (random) {
      d = v128.and(d, i32x4.lt_s(bits4(loG, key), below));
      loG = i32x4.add(loG, i32x4.splat(GOLDEN << 2));
    } else if (winWhole) {
      const a = v128.and(d, i32x4.splat(0x7fffffff));
      const atLo = i32x4.eq(a, lo), atHi = i32x4.eq(a, hi);
      if (dropTies) loTies = i32x4.sub(loTies, atLo);
      if (keepTies) hiTies = i32x4.sub(hiTies, atHi);
      const above = dropTies ? i32x4.gt_s(a, lo) : v128.or(i32x4.gt_s(a, lo), atLo);
      const under = keepTies ? v128.or(i32x4.lt_s(a, hi), atHi) : i32x4.lt_s(a, hi);
      d = v128.and(d, v128.and(above, under));
    } else if (topk && whole != 0) {
      const a = v128.and(d, i32x4.splat(0x7fffffff));
      if (winWhole && dropTies) store<f64>(dropAt, dropLo - <f64>laneSum(loTies));
  if (winWhole && keepTies) store<f64>(keepAt, keepHi - <f64>laneSum(hiTies));
  if (whole == TIES_ALL) {
        ties = i32x4.sub(ties, i32x4.eq(a, thr));
        d = v128.and(d, v128.or(i32x4.gt_s(a, thr), i32x4.eq(a, thr)));
      } else {
        d = v128.and(d, i32x4.gt_s(a, thr));
      }
    } else {
      d = applyMaskK<K>(mk, d, e0 + <u64>j, off + j, w0, w1, pv);
    }
    const dd = f32x4.mul(f32x4.mul(d, s), w);
    const at = dst + (<usize>j << 2);
    if (mode == ADD) v128.store(at, f32x4.add(v128.load(at), dd));
    else v128.store(at, mode == FIRST ? f32x4.add(zero, dd) : dd); // FIRST: 0 + d, as the reference
  }
  if (winWhole && dropTies) store<f64>(dropAt, dropLo - <f64>laneSum(loTies));
  if (winWhole && keepTies) store<f64>(keepAt, keepHi - <f64>laneSum(hiTies));
  if (whole == TIES_ALL) {
    store<f64>(quotaAt, remaining - <f64>laneSum(ties));
  }
  if (!v128.any_true(flag)) return 0;
  let count = 0;
  for (let j = 0; j < m; j++) {
    const d = ld1<T>(xp, j) - ld1<T>(bo, j);
    if ((reinterpret<u32>(d) & 0x7f800000) == 0x7f800000) count++;
  }
  return count;
}

/** Exact count of NaN/Inf among m bf16 values. */
function countNonFiniteBf16(p: usize, m: i32): i32 {
  let count = 0;
  for (let j = 0; j < m; j++) if ((load<u16>(p + (<usize>j << 1)) & 0x7f80) == 0x7f80) count++;
  return count;
}

// Model stock: out = t * (Σ x_i / N) + (1 - t) * b, with t per tensor or per row.
// tPtr 0: one t for the slice
@inline function stock<T>(args: usize): i32 {
  const n = argI32(args, S.STOCK_N), nm = argI32(args, S.STOCK_NM), outKind = argI32(args, S.STOCK_OUT_KIND), out = argPtr(args, S.STOCK_OUT), bp = argPtr(args, S.STOCK_BASE);
  const t0 = argF32(args, S.STOCK_T), tPtr = argPtr(args, S.STOCK_T_PTR), rowLen = argI32(args, S.STOCK_ROW_LEN), acc = argPtr(args, S.STOCK_SCRATCH);
  const models = args + S.STOCK_HEAD;
  const nf = f32x4.splat(<f32>nm);
  let bad = 0;
  for (let off = 0; off < n; off += CH) {
    const m = min(CH, n - off);
    for (let j = 0; j < m; j += 4) v128.store(acc + (<usize>j << 2), f32x4.splat(0));
    for (let k = 0; k < nm; k++) {
      const xp = argPtr(models + <usize>k * S.STOCK_EACH, S.STOCK_EACH_PTR) + <usize>off * sizeof<T>();
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
