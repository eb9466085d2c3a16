// Enrollments on disk: one JSON file per unit under STATE_DIR/enrollments, written durably before
// the daemon acts on it. The journal stays the source of truth for what happened to the unit;
// this only says what the daemon owes it (tune it, guard it) and what it learnt on the way.
import { existsSync, mkdirSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { fsyncDir, writeFileDurable } from '../adapters/fsutil.js';
import { AutohardenError, stateWriteError } from '../core/errors.js';
import { parseUnitName } from '../core/unitName.js';
import { enrollSpecSchema, type EnrollSpec } from './spec.js';

export const ENROLLMENT_STATES = ['queued', 'tuning', 'guarding', 'failed'] as const;
export type EnrollmentState = (typeof ENROLLMENT_STATES)[number];

const outcome = z.object({ option: z.string(), value: z.string(), reason: z.string(), safety: z.string().optional(), confinesSessions: z.literal(true).optional(), note: z.string().optional() });

const reportSchema = z.object({
  unit: z.string(),
  exposureBefore: z.number(),
  exposureAfter: z.number(),
  trials: z.number(),
  restarts: z.number(),
  durationMs: z.number(),
  downtimeMs: z.number().optional(),
  /** false: --max-restarts/--max-time stopped the tune early; reports stored before ran to the end. */
  complete: z.boolean().default(true),
  stoppedBy: z.string().optional(),
  accepted: z.array(outcome),
  rejected: z.array(outcome),
  skipped: z.array(outcome),
  warnings: z.array(z.string()),
  persistedTo: z.string().optional(),
  /** Accepted settings the score does not count (absent in reports stored before it). */
  unscored: z.array(z.object({ option: z.string(), value: z.string(), scoredAs: z.string().optional() })).optional(),
});

export const enrollmentSchema = z.object({
  spec: enrollSpecSchema,
  state: z.enum(ENROLLMENT_STATES),
  enrolledAt: z.string(),
  updatedAt: z.string(),
  /** The unit's canonical Id (Unit.Id) at enroll time: the key of its lock, shared by aliases. */
  id: z.string().optional(),
  /** Why the state is 'failed'. */
  error: z.string().optional(),
  /** The tune's report, once tuning finished. */
  report: reportSchema.optional(),
  /** Options the guard rolled back, by failure signature: a recurring failure goes further. */
  guardHistory: z.record(z.string(), z.array(z.string())).default({}),
  /** Before the first trial: errno-like lines the unit already logged (signatures), and the log
   * files it writes. The guard takes up only errors that are new, in the journal and these files. */
  baseline: z.object({ knownErrors: z.array(z.string()), logFiles: z.array(z.string()) }).optional(),
});

export type Enrollment = z.output<typeof enrollmentSchema> & { spec: EnrollSpec };

export class EnrollmentStore {
  readonly dir: string;

  constructor(readonly stateDir: string) {
    this.dir = join(stateDir, 'enrollments');
  }

  private path(unit: string): string {
    // Validated again: nothing but a unit name becomes part of the path.
    return join(this.dir, `${parseUnitName(unit, { serviceOnly: true })}.json`);
  }

  has(unit: string): boolean {
    return existsSync(this.path(unit));
  }

  /** Throws AutohardenError Config, one line naming the file, when it is not a valid enrollment
   * of this unit: the caller isolates that unit (I3). */
  read(unit: string): Enrollment | undefined {
    const p = this.path(unit);
    if (!existsSync(p)) return undefined;
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(p, 'utf8'));
    } catch (e) {
      const why = e instanceof SyntaxError ? e.message.split('\n')[0]!.slice(0, 200) : String(e);
      throw new AutohardenError('Config', `${p}: not JSON (${why}); this unit's enrollment is corrupt: fix it or unenroll`);
    }
    const r = enrollmentSchema.safeParse(data);
    if (!r.success) {
      const issue = r.error.issues[0];
      const where = issue?.path.map(String).join('.') || 'enrollment';
      throw new AutohardenError('Config', `${p}: not an enrollment (${where}: ${issue?.message ?? 'invalid'}); fix it or unenroll`);
    }
    if (r.data.spec.unit !== parseUnitName(unit, { serviceOnly: true })) {
      throw new AutohardenError('Config', `${p}: holds the enrollment of ${JSON.stringify(r.data.spec.unit)}, not of the unit it is named after`);
    }
    return r.data as Enrollment;
  }

  /** Every enrollment on disk; unreadable files are reported through onError and skipped. */
  list(onError: (unit: string, err: Error) => void = () => {}): Enrollment[] {
    if (!existsSync(this.dir)) return [];
    const out: Enrollment[] = [];
    for (const f of readdirSync(this.dir).sort()) {
      if (!f.endsWith('.json')) continue;
      const unit = f.slice(0, -5);
      try {
        const e = this.read(unit);
        if (e) out.push(e);
      } catch (err) {
        onError(unit, err as Error);
      }
    }
    return out;
  }

  /** Throws StateWriteError (ENOSPC, EROFS…) when the state directory refuses it. */
  write(e: Enrollment): void {
    const full = enrollmentSchema.parse({ ...e, updatedAt: new Date().toISOString() });
    const p = this.path(e.spec.unit);
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      writeFileDurable(p, `${JSON.stringify(full, null, 2)}\n`, 0o600);
    } catch (err) {
      throw stateWriteError(p, 'the enrollment', err);
    }
    Object.assign(e, { updatedAt: full.updatedAt });
  }

  remove(unit: string): void {
    const p = this.path(unit);
    if (!existsSync(p)) return;
    try {
      unlinkSync(p);
      fsyncDir(this.dir);
    } catch (err) {
      throw stateWriteError(p, 'the enrollments directory to remove', err);
    }
  }
}

export function newEnrollment(spec: EnrollSpec): Enrollment {
  const now = new Date().toISOString();
  return { spec, state: 'queued', enrolledAt: now, updatedAt: now, guardHistory: {} };
}
