// What the use cases answer, for the CLI to print: types and the status table, without loading
// any use case's schema.
export { formatStatus, type StatusRow } from '../daemon/statusFormat.js';
export type { TuneReport } from '../engine/tune.js';
export type { RollbackResult } from '../engine/rollback.js';
export type { JournalRecord } from '../core/journal.js';
