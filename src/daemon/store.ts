// Enrollments on disk: one JSON file per unit under STATE_DIR/enrollments, written durably before
// the daemon acts on it. The journal stays the source of truth for what happened to the unit;
// this only says what the daemon owes it (tune it, guard it) and what it learnt on the way.
import { existsSync, mkdirSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { fsyncDir, writeFileDurable } from '../adapters/fsutil.js';
import { AutohardenError } from '../core/errors.js';
import { parseUnitName } from '../core/unitName.js';
import { enrollSpecSchema, type EnrollSpec } from './spec.js';

export const ENROLLMENT_STATES = ['queued', 'tuning', 'guarding', 'failed'] as const;
export type EnrollmentState = (typeof ENROLLMENT_STATES)[number];

const outcome = z.object({ option: z.string(), value: z.string(), reason: z.string(), safety: z.string().optional() });

const reportSchema = z.object({
  unit: z.string(),
  exposureBefore: z.number(),
  exposureAfter: z.number(),
  trials: z.number(),
  restarts: z.number(),
  durationMs: z.number(),
  accepted: z.array(outcome),
  rejected: z.array(outcome),
  skipped: z.array(outcome),
  warnings: z.array(z.string()),
  persistedTo: z.string().optional(),
});

export const enrollmentSchema = z.object({
  spec: enrollSpecSchema,
  state: z.enum(ENROLLMENT_STATES),
  enrolledAt: z.string(),
  updatedAt: z.string(),
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

  read(unit: string): Enrollment | undefined {
    const p = this.path(unit);
    if (!existsSync(p)) return undefined;
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(p, 'utf8'));
    } catch {
      throw new AutohardenError('Config', `${p}: not JSON`);
    }
    const r = enrollmentSchema.safeParse(data);
    if (!r.success) throw new AutohardenError('Config', `${p}: not an enrollment (${r.error.issues[0]?.message ?? 'invalid'})`);
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

  write(e: Enrollment): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const full = enrollmentSchema.parse({ ...e, updatedAt: new Date().toISOString() });
    Object.assign(e, { updatedAt: full.updatedAt });
    writeFileDurable(this.path(e.spec.unit), `${JSON.stringify(full, null, 2)}\n`, 0o600);
  }

  remove(unit: string): void {
    const p = this.path(unit);
    if (!existsSync(p)) return;
    unlinkSync(p);
    fsyncDir(this.dir);
  }
}

export function newEnrollment(spec: EnrollSpec): Enrollment {
  const now = new Date().toISOString();
  return { spec, state: 'queued', enrolledAt: now, updatedAt: now, guardHistory: {} };
}
