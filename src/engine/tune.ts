// The tune engine's entry: the session and its phases live in ./tune/ (session.ts sequences
// them, trial.ts runs one trial); the report is a fold in core/report.ts.
export { TuneSession, tune } from './tune/session.js';
export { allProperties, type TuneOptions } from './tune/context.js';
export { preflight, probeWarnings } from './tune/preflight.js';
export type { CostSummary, Outcome, TuneReport } from '../core/report.js';
