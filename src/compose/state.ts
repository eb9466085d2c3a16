// The state directory's adapters, built in one place: journals, enrollments, locks. Kept apart
// from compose.ts so that `autoharden status` without a daemon loads no systemd or engine code.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { JournalStore } from '../adapters/journalStore.js';
import { lockUnit } from '../adapters/lock.js';
import { EnrollmentStore } from '../daemon/store.js';

export const DEFAULT_STATE_DIR = '/var/lib/autoharden';

export function journalFor(stateDir: string, unit: string): JournalStore {
  return new JournalStore(stateDir, unit);
}

export function enrollmentStore(stateDir: string): EnrollmentStore {
  return new EnrollmentStore(stateDir);
}

/** Takes the unit's lock, keyed by its canonical Id when systemd said it; returns its release. */
export function lockFor(stateDir: string): (unit: string, id?: string) => () => void {
  return (unit, id) => lockUnit(stateDir, unit, id || unit);
}

/** Units with a journal in the state directory, sorted. */
export function journaledUnits(stateDir: string): string[] {
  const dir = join(stateDir, 'journal');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => f.slice(0, -6)).sort() : [];
}
