export { structuralStats, type StructuralOptions, type StructuralStats, type TensorStats } from './structural.js';
export { pairSignals, sums, withCombination, type PairSignals, type Sums } from './signals.js';
export { writeSignals, readSignals, type SignalRow } from './signals-file.js';
export { loadCatalog, type Catalog, type Expert } from './catalog.js';
export { CANDIDATES, type Candidate } from './candidates.js';
export { collectOutcomes, type CollectOptions, type OutcomeRow } from './collect.js';
export { FEATURES, pairFeatures, type Features } from './features.js';
export { readOutcomes, writeOutcomes } from './outcomes-file.js';
