/** Rounding applied after every arithmetic step: f32 (Math.fround) or none (float64 mode). */
export type Round = (x: number) => number;

export const F32: Round = Math.fround;
export const F64: Round = (x) => x;
