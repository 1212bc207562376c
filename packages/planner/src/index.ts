export { structuralStats, type StructuralOptions, type StructuralStats, type TensorStats } from './structural.js';
export { pairSignals, sums, withCombination, type PairSignals, type Sums } from './signals.js';
export { writeSignals, readSignals, type SignalRow } from './signals-file.js';
