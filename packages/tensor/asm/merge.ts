// Merge kernels: read the inputs of one slice, write the merged slice in the output dtype.
// Every kernel works chunk by chunk (CH elements) with an L1-resident f32 scratch; all
// arithmetic is IEEE f32 in a fixed order that src/reference/ reproduces bit for bit.
import { argF32, argF64, argI32, argPtr } from './args';
import * as S from './generated/slots';
import { CH, OUT_BF16, bf16LanesFinite, emit, ld, ld1, nonFiniteBf16 } from './codec';
import { KBernoulli, KNone, KProbs, KTopk, KWindow, KZero, MASK_BERNOULLI, MASK_NONE, MASK_PROBS, MASK_TOPK, MASK_WINDOW, applyMaskK, maskWord } from './mask';
import { GOLDEN, bitsBelow, bits4, laneKey, uniformOf } from './rng';
import { pin } from './pin';

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
  // scratch: nm chunks of weighted deltas (TIES), the sum, the kept weights (TIES), then the
  // weights as vectors
  const acc = scr + <usize>nm * (<usize>CH << 2);
  const kept = acc + (<usize>CH << 2);
  const wtab = kept + (<usize>CH << 2);
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
      const e0 = elemStart + <u64>off;
      const kind = argI32(slot, S.MODEL_MASK_KIND);
      // TIES keeps every model's weighted deltas as well as their sum (the election)
      const dst = scr + <usize>k * (<usize>CH << 2);
      if (ties) {
        if (k == 0) badIn += deltasOf<T, MTiesFirst>(kind, slot, xp, bo, dst, acc, s, w, m, off, e0);
        else badIn += deltasOf<T, MTiesAdd>(kind, slot, xp, bo, dst, acc, s, w, m, off, e0);
      } else if (k == 0) badIn += deltasOf<T, MFirst>(kind, slot, xp, bo, dst, acc, s, w, m, off, e0);
      else badIn += deltasOf<T, MAdd>(kind, slot, xp, bo, dst, acc, s, w, m, off, e0);
    }
    if (ties) elect(scr, acc, kept, wtab, nm, m, normalize);
    if (outKind == OUT_BF16) {
      // combine, encode bf16 and flag non-finite results in one pass (a non-finite result fails
      // the task, so NaN needs no care in the rounding; the flag also sees overflow to Inf)
      const o16 = out + (<usize>off << 1);
      let flag = i32x4.splat(0);
      for (let j = 0; j < m; j += 8) {
        const r0 = combine<T>(ties, normalize, scr, acc, kept, bo, j, div, lam);
        const r1 = combine<T>(ties, normalize, scr, acc, kept, bo, j + 4, div, lam);
        const v = i16x8.narrow_i32x4_u(bf16LanesFinite(r0), bf16LanesFinite(r1));
        flag = v128.or(flag, nonFiniteBf16(v));
        v128.store(o16 + (<usize>j << 1), v);
      }
      if (v128.any_true(flag)) bad += countNonFiniteBf16(o16, m);
    } else {
      for (let j = 0; j < m; j += 4) v128.store(acc + (<usize>j << 2), combine<T>(ties, normalize, scr, acc, kept, bo, j, div, lam));
      bad += emit(acc, out, off, m, outKind);
    }
  }
  // the count of non-finite task-vector entries goes back in the first argument slot
  store<f64>(args + S.TVMERGE_N, <f64>badIn);
  return bad;
}

// TIES over one chunk, model by model: acc holds the sum of the weighted deltas; the deltas
// that agree with its sign (+ where sum >= 0) are summed into the first model's chunk, their
// weights into `kept` (normalize). d agrees when d, its sign flipped where the election is -,
// is > 0 (zeros and NaN never are).
function elect(scr: usize, acc: usize, kept: usize, wtab: usize, nm: i32, m: i32, normalize: bool): void {
  const zero = f32x4.splat(0);
  const sign = i32x4.splat(0x80000000);
  for (let j = 0; j < m; j += 4) {
    const a = acc + (<usize>j << 2);
    v128.store(a, v128.andnot(sign, f32x4.ge(v128.load(a), zero)));
  }
  for (let k = 0; k < nm; k++) {
    const dk = scr + <usize>k * (<usize>CH << 2);
    const w = v128.load(wtab + (<usize>k << 4));
    if (k == 0) {
      if (normalize) keep<Kept, MFirst>(scr, dk, acc, kept, w, m);
      else keep<NoKept, MFirst>(scr, dk, acc, kept, w, m);
    } else if (normalize) keep<Kept, MAdd>(scr, dk, acc, kept, w, m);
    else keep<NoKept, MAdd>(scr, dk, acc, kept, w, m);
  }
}

// Compile-time markers: whether TIES also sums the weights of the kept deltas (normalize).
type Kept = u8;
type NoKept = i8;

// Adds model dk's deltas that agree with the election (and their weights) into r (and kept);
// the first model's sums start from 0 (0 + d, as the reference).
@inline function keep<N, F>(r: usize, dk: usize, flip: usize, kept: usize, w: v128, m: i32): void {
  const zero = f32x4.splat(0);
  const first = same<F, MFirst>();
  for (let j = 0; j < m; j += 4) {
    const o = <usize>j << 2;
    const d = v128.load(dk + o);
    const agree = f32x4.gt(v128.xor(d, v128.load(flip + o)), zero);
    v128.store(r + o, f32x4.add(first ? zero : v128.load(r + o), v128.and(d, agree)));
    if (same<N, Kept>()) v128.store(kept + o, f32x4.add(first ? zero : v128.load(kept + o), v128.and(w, agree)));
  }
}

// b + lambda * (combined weighted deltas [/ divisor]) for 4 elements at j: TIES's kept sum is
// in the first model's chunk (scr), the sum's in acc.
@inline function combine<T>(ties: bool, normalize: bool, scr: usize, acc: usize, kept: usize, bo: usize, j: i32, div: v128, lam: v128): v128 {
  const o = <usize>j << 2;
  let r: v128;
  if (ties) {
    r = v128.load(scr + o);
    if (normalize) {
      const ks = v128.load(kept + o);
      r = f32x4.div(r, v128.bitselect(f32x4.splat(1), ks, f32x4.eq(ks, f32x4.splat(0))));
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

// Compile-time markers of where a model's weighted deltas go: the sum only, or (TIES) the
// model's own chunk too; the first model's sum starts from 0 (0 + d, as the reference).
type MFirst = u8;
type MAdd = i8;
type MTiesFirst = u16;
type MTiesAdd = i16;

// Compile-time markers of the loop that applies a mask over a whole chunk (generic code is
// specialised before optimisation, so each loop carries only its own variant's work).
type VPlain = u8; // no mask
type VRandom = i8; // bernoulli, one key per chunk, the uniform compared as an integer
type VWindow = u16; // window whose tie quotas cannot run out inside the chunk
type VTopkAll = i16; // top-k whose tie quota cannot run out inside the chunk
type VTopkNone = u32; // top-k with no tie quota left
type VProbs = i64; // per-element probabilities, one key per chunk
type VMasked = i32; // the mask applied 4 lanes at a time, quotas consumed in element order

@inline function same<A, B>(): bool {
  return sizeof<A>() == sizeof<B>() && isSigned<A>() == isSigned<B>() && isFloat<A>() == isFloat<B>();
}

// The weighted, masked task vector of one model over one chunk, into the sum (and its own
// chunk for TIES). Returns how many of its entries were not finite before masking.
function deltasOf<T, M>(kind: i32, slot: usize, xp: usize, bo: usize, dst: usize, acc: usize, s: v128, w: v128, m: i32, off: i32, e0: u64): i32 {
  let flag: v128;
  const mk = slot + S.MODEL_M0;
  if (kind == MASK_NONE) {
    flag = chunk<T, KNone, M, VPlain>(mk, xp, bo, dst, acc, s, w, m, off, e0);
  } else if (kind == MASK_TOPK) {
    // when the quota of ties is used up, or cannot run out inside this chunk, every lane is
    // decided by one comparison (ties counted as they go) instead of one by one in element order
    const remaining = load<f64>(mk + (<usize>S.MASK_TOPK_QUOTA << 3));
    if (remaining <= 0) flag = chunk<T, KTopk, M, VTopkNone>(mk, xp, bo, dst, acc, s, w, m, off, e0);
    else if (remaining >= <f64>m) flag = chunk<T, KTopk, M, VTopkAll>(mk, xp, bo, dst, acc, s, w, m, off, e0);
    else flag = chunk<T, KTopk, M, VMasked>(mk, xp, bo, dst, acc, s, w, m, off, e0);
  } else if (kind == MASK_BERNOULLI) {
    // one key per chunk unless the chunk crosses 2^32 elements
    if (e0 >>> 32 == (e0 + <u64>(m - 1)) >>> 32) flag = chunk<T, KBernoulli, M, VRandom>(mk, xp, bo, dst, acc, s, w, m, off, e0);
    else flag = chunk<T, KBernoulli, M, VMasked>(mk, xp, bo, dst, acc, s, w, m, off, e0);
  } else if (kind == MASK_WINDOW) {
    const dropLo = load<f64>(mk + (<usize>S.MASK_WINDOW_DROP_LO << 3)), keepHi = load<f64>(mk + (<usize>S.MASK_WINDOW_KEEP_HI << 3));
    if ((dropLo <= 0 || dropLo >= <f64>m) && (keepHi <= 0 || keepHi >= <f64>m)) flag = chunk<T, KWindow, M, VWindow>(mk, xp, bo, dst, acc, s, w, m, off, e0);
    else flag = chunk<T, KWindow, M, VMasked>(mk, xp, bo, dst, acc, s, w, m, off, e0);
  } else if (kind == MASK_PROBS) {
    if (e0 >>> 32 == (e0 + <u64>(m - 1)) >>> 32) flag = chunk<T, KProbs, M, VProbs>(mk, xp, bo, dst, acc, s, w, m, off, e0);
    else flag = chunk<T, KProbs, M, VMasked>(mk, xp, bo, dst, acc, s, w, m, off, e0);
  } else {
    flag = chunk<T, KZero, M, VMasked>(mk, xp, bo, dst, acc, s, w, m, off, e0);
  }
  if (!v128.any_true(flag)) return 0;
  let count = 0;
  for (let j = 0; j < m; j++) {
    const d = ld1<T>(xp, j) - ld1<T>(bo, j);
    if ((reinterpret<u32>(d) & 0x7f800000) == 0x7f800000) count++;
  }
  return count;
}

// One chunk of one model's deltas with mask loop V; returns -1 in the lanes where some
// task-vector entry was NaN/Inf (masks could hide it).
@inline function chunk<T, K, M, V>(mk: usize, xp: usize, bo: usize, dst: usize, acc: usize, s: v128, w: v128, m: i32, off: i32, e0: u64): v128 {
  const zero = f32x4.splat(0);
  let flag = i32x4.splat(0);
  // a plain sum's NaN input reaches its result (and fails it): no check needed
  const tiesOut = same<M, MTiesFirst>() || same<M, MTiesAdd>();
  const first = same<M, MFirst>() || same<M, MTiesFirst>();
  const check = tiesOut || !same<V, VPlain>();
  const w0 = maskWord(mk, 0), w1 = maskWord(mk, 1), pv = f32x4.splat(<f32>load<f64>(mk + (<usize>2 << 3)));
  const topkAt = mk + (<usize>S.MASK_TOPK_QUOTA << 3);
  // (slots are read only by the variants they belong to: a conversion of another kind's value could trap)
  const topk = same<V, VTopkAll>() || same<V, VTopkNone>(), win = same<V, VWindow>();
  const thr = i32x4.splat(topk ? <i32>load<f64>(mk + (<usize>S.MASK_TOPK_THR << 3)) : 0);
  const random = same<V, VRandom>() || same<V, VProbs>();
  const key = i32x4.splat(random ? laneKey(e0, w0, w1) : 0);
  const probs = same<V, VProbs>() ? <usize>load<f64>(mk + (<usize>S.MASK_PROBS_PROBS << 3)) + (<usize>off << 2) : 0;
  const below = i32x4.splat(same<V, VRandom>() ? bitsBelow(<f32>load<f64>(mk + (<usize>S.MASK_BERNOULLI_P << 3))) : 0);
  let loG = i32x4.mul(i32x4.add(i32x4.splat(<i32><u32>e0), i32x4(0, 1, 2, 3)), i32x4.splat(GOLDEN));
  // window: ties at lo dropped, ties at hi kept, each while its quota lasts
  const dropAt = mk + (<usize>S.MASK_WINDOW_DROP_LO << 3), keepAt = mk + (<usize>S.MASK_WINDOW_KEEP_HI << 3);
  const dropTies = win && load<f64>(dropAt) > 0, keepTies = win && load<f64>(keepAt) > 0;
  const loKept = i32x4.splat(dropTies ? 0 : -1), hiKept = i32x4.splat(keepTies ? -1 : 0);
  const lo = i32x4.splat(win ? <i32>load<f64>(mk + (<usize>S.MASK_WINDOW_LO << 3)) : 0);
  const hi = i32x4.splat(win ? <i32>load<f64>(mk + (<usize>S.MASK_WINDOW_HI << 3)) : 0);
  let ties = i32x4.splat(0), loTies = i32x4.splat(0), hiTies = i32x4.splat(0);
  const pExp = pin(0, i32x4.splat(0x7f800000)), pAbs = pin(1, i32x4.splat(0x7fffffff)), pStep = pin(2, i32x4.splat(GOLDEN << 2));
  const pKey = pin(3, key), pBelow = pin(4, below), pThr = pin(5, thr), pLo = pin(6, lo), pHi = pin(7, hi);
  const pLoKept = pin(8, loKept), pHiKept = pin(9, hiKept);
  for (let j = 0; j < m; j += 4) {
    let d = f32x4.sub(ld<T>(xp, j), ld<T>(bo, j));
    if (check) {
      const e = v128.load(pExp);
      flag = v128.or(flag, i32x4.eq(v128.and(d, e), e));
    }
    if (same<V, VRandom>()) {
      d = v128.and(d, i32x4.lt_s(bits4(loG, v128.load(pKey)), v128.load(pBelow)));
      loG = i32x4.add(loG, v128.load(pStep));
    } else if (same<V, VProbs>()) {
      d = v128.and(d, f32x4.lt(uniformOf(bits4(loG, v128.load(pKey))), v128.load(probs + (<usize>j << 2))));
      loG = i32x4.add(loG, v128.load(pStep));
    } else if (same<V, VWindow>()) {
      const a = v128.and(d, v128.load(pAbs));
      const lo = v128.load(pLo), hi = v128.load(pHi);
      const atLo = i32x4.eq(a, lo), atHi = i32x4.eq(a, hi);
      loTies = i32x4.sub(loTies, atLo);
      hiTies = i32x4.sub(hiTies, atHi);
      const above = v128.or(i32x4.gt_s(a, lo), v128.and(atLo, v128.load(pLoKept)));
      const under = v128.or(i32x4.lt_s(a, hi), v128.and(atHi, v128.load(pHiKept)));
      d = v128.and(d, v128.and(above, under));
    } else if (same<V, VTopkAll>()) {
      const a = v128.and(d, v128.load(pAbs));
      const thr = v128.load(pThr);
      const eq = i32x4.eq(a, thr);
      ties = i32x4.sub(ties, eq);
      d = v128.and(d, v128.or(i32x4.gt_s(a, thr), eq));
    } else if (same<V, VTopkNone>()) {
      d = v128.and(d, i32x4.gt_s(v128.and(d, v128.load(pAbs)), v128.load(pThr)));
    } else if (!same<V, VPlain>()) {
      d = applyMaskK<K>(mk, d, e0 + <u64>j, off + j, w0, w1, pv);
    }
    const dd = f32x4.mul(f32x4.mul(d, s), w);
    const o = <usize>j << 2;
    if (tiesOut) v128.store(dst + o, dd);
    v128.store(acc + o, f32x4.add(first ? zero : v128.load(acc + o), dd)); // the first: 0 + d, as the reference
  }
  if (win) {
    if (dropTies) store<f64>(dropAt, load<f64>(dropAt) - <f64>laneSum(loTies));
    if (keepTies) store<f64>(keepAt, load<f64>(keepAt) - <f64>laneSum(hiTies));
  }
  if (same<V, VTopkAll>()) store<f64>(topkAt, load<f64>(topkAt) - <f64>laneSum(ties));
  return flag;
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
