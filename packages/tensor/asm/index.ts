export { linear_bf16, linear_f32, tvmerge_bf16, tvmerge_f32, stock_bf16, stock_f32 } from './merge';
export { hist_hi_bf16, hist_hi_f32, hist_lo_bf16, hist_lo_f32, l1_bf16, l1_f32, gram_bf16, gram_f32 } from './stats';
export { convert } from './convert';
export { della_bf16, della_f32 } from './della';
