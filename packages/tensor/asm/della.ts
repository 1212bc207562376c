// DELLA's keep probabilities of one model over a slice of whole rows: within each row, the rank
// of |d| ascending (ties by element index) mapped linearly onto [lo, lo + span]. The ranks come
// from a stable LSD radix sort of the f32 bit patterns of |d| (four 8-bit digits, counted in
// one pass; a digit that every key of the row shares moves nothing and is skipped: differences
// of 16-bit floats mostly leave the low two digits zero).
import { argF64, argI32, argPtr } from './args';
import * as S from './generated/slots';
import { ld, ld1 } from './codec';

const DIGITS: usize = 256;
const NAN_KEY: u32 = 0x7fc00000; // every NaN ranks as this one (above Inf)

@inline function keyOf(bits: u32): u32 {
  const a = bits & 0x7fffffff;
  return a > 0x7f800000 ? NAN_KEY : a;
}

/** The probability of each rank in a row of len elements (the same for every full row). */
function rankTable(table: usize, len: i32, lo: f64, span: f64): void {
  const last = <f64>(len - 1);
  for (let rank = 0; rank < len; rank++) store<f32>(table + (<usize>rank << 2), <f32>(lo + span * (len > 1 ? <f64>rank / last : 0)));
}

@inline function della<T>(args: usize): void {
  const n = argI32(args, S.DELLA_N), bp = argPtr(args, S.DELLA_BASE), xp = argPtr(args, S.DELLA_PTR);
  const rowLen = argI32(args, S.DELLA_ROW_LEN), lo = argF64(args, S.DELLA_LO), span = argF64(args, S.DELLA_SPAN);
  const out = argPtr(args, S.DELLA_OUT), scr = argPtr(args, S.DELLA_SCRATCH);
  // scratch: keys and indices twice, the rank table (min(rowLen, n) u32 each), then the counts
  // of the four digits
  const cap = <usize>min(rowLen, n) << 2;
  const keyA = scr, idxA = scr + cap, keyB = idxA + cap, idxB = keyB + cap, table = idxB + cap, counts = table + cap;
  let tableLen = 0;
  for (let start = 0; start < n; start += rowLen) {
    const len = min(rowLen, n - start);
    if (len != tableLen) {
      rankTable(table, len, lo, span);
      tableLen = len;
    }
    memory.fill(counts, 0, 4 * DIGITS << 2);
    const rx = xp + <usize>start * sizeof<T>(), rb = bp + <usize>start * sizeof<T>();
    const full = len & ~3;
    const inf = i32x4.splat(0x7f800000);
    for (let j = 0; j < full; j += 4) {
      const a = v128.and(f32x4.sub(ld<T>(rx, j), ld<T>(rb, j)), i32x4.splat(0x7fffffff));
      v128.store(keyA + (<usize>j << 2), v128.bitselect(i32x4.splat(NAN_KEY), a, i32x4.gt_s(a, inf)));
      v128.store(idxA + (<usize>j << 2), i32x4.add(i32x4.splat(j), i32x4(0, 1, 2, 3)));
    }
    for (let j = full; j < len; j++) {
      store<u32>(keyA + (<usize>j << 2), keyOf(reinterpret<u32>(ld1<T>(rx, j) - ld1<T>(rb, j))));
      store<u32>(idxA + (<usize>j << 2), j);
    }
    for (let j = 0; j < len; j++) {
      const k = load<u32>(keyA + (<usize>j << 2));
      let p = counts + ((<usize>k & 255) << 2);
      store<u32>(p, load<u32>(p) + 1);
      p = counts + ((DIGITS + (<usize>(k >>> 8) & 255)) << 2);
      store<u32>(p, load<u32>(p) + 1);
      p = counts + ((2 * DIGITS + (<usize>(k >>> 16) & 255)) << 2);
      store<u32>(p, load<u32>(p) + 1);
      p = counts + ((3 * DIGITS + <usize>(k >>> 24)) << 2);
      store<u32>(p, load<u32>(p) + 1);
    }
    let keys = keyA, idx = idxA, keys2 = keyB, idx2 = idxB;
    for (let digit: u32 = 0; digit < 4; digit++) {
      const shift = digit << 3;
      const c = counts + ((<usize>digit * DIGITS) << 2);
      if (load<u32>(c + ((<usize>(load<u32>(keys) >>> shift) & 255) << 2)) == <u32>len) continue;
      let sum: u32 = 0;
      for (let b: usize = 0; b < DIGITS; b++) {
        const p = c + (b << 2);
        const x = load<u32>(p);
        store<u32>(p, sum);
        sum += x;
      }
      for (let j = 0; j < len; j++) {
        const k = load<u32>(keys + (<usize>j << 2));
        const p = c + ((<usize>(k >>> shift) & 255) << 2);
        const at = load<u32>(p);
        store<u32>(p, at + 1);
        store<u32>(keys2 + (<usize>at << 2), k);
        store<u32>(idx2 + (<usize>at << 2), load<u32>(idx + (<usize>j << 2)));
      }
      const tk = keys, ti = idx;
      keys = keys2; idx = idx2; keys2 = tk; idx2 = ti;
    }
    const ro = out + (<usize>start << 2);
    for (let rank = 0; rank < len; rank++) {
      store<f32>(ro + (<usize>load<u32>(idx + (<usize>rank << 2)) << 2), load<f32>(table + (<usize>rank << 2)));
    }
  }
}

export function della_bf16(args: usize): void { della<u16>(args); }
export function della_f32(args: usize): void { della<f32>(args); }
