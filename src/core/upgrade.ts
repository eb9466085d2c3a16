// After an upgrade: which platform a unit's accepted set was last verified on (its tune's begin
// record or a re-verification), and whether the running one differs. Pure; decisions are data.
// A journal that does not say (written before platforms were recorded, or a field that does not
// read as one) is "unknown": nothing is re-verified on a guess.
import type { JournalRecord } from './journal.js';
import type { PlatformFingerprint } from './platform.js';

/** What a journal records of the platform (platform.ts platformFingerprint). */
export type Fingerprint = PlatformFingerprint;

const KERNEL = /^\d{1,4}\.\d{1,4}$/;
const FEATURE = /^[A-Z0-9_]{1,64}$/;
const LSM = /^[a-z0-9_]{1,32}$/;
const MAX_LIST = 256;

/** A list whose every item is a name of this form; undefined (unknown) otherwise. */
function names(v: unknown, form: RegExp): string[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_LIST) return undefined;
  return v.every((x) => typeof x === 'string' && form.test(x)) ? [...(v as string[])] : undefined;
}

/** A fingerprint as a journal line holds it, validated: the journal is a file on disk, and what
 * status prints of it must be plain. A field that does not read is dropped (unknown); without a
 * readable systemd version the whole is unknown. */
export function readFingerprint(v: unknown): Fingerprint | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const systemd = o.systemd;
  if (typeof systemd !== 'number' || !Number.isInteger(systemd) || systemd < 1 || systemd > 99_999) return undefined;
  const kernel = typeof o.kernel === 'string' && KERNEL.test(o.kernel) ? o.kernel : undefined;
  const features = names(o.features, FEATURE);
  const lsm = names(o.lsm, LSM);
  return { systemd, ...(kernel ? { kernel } : {}), ...(features ? { features } : {}), ...(lsm ? { lsm } : {}) };
}

/** Where the accepted set was last verified: nothing tuned yet, a record without a platform, or one with it. */
export type VerifiedOn =
  | { kind: 'never' }
  | { kind: 'unknown'; at: string; by: 'tune' | 'reverify' }
  | { kind: 'known'; at: string; by: 'tune' | 'reverify'; fingerprint: Fingerprint };

/** The last tune-begin or reverify record decides (a later tune replaces any earlier verification). */
export function verifiedOn(records: readonly JournalRecord[]): VerifiedOn {
  let last: Extract<JournalRecord, { kind: 'tune-begin' | 'reverify' }> | undefined;
  for (const r of records) if (r.kind === 'tune-begin' || r.kind === 'reverify') last = r;
  if (!last) return { kind: 'never' };
  const by = last.kind === 'reverify' ? 'reverify' : 'tune';
  // read again, field by field: the journal's schema is not the only writer this must survive
  const fingerprint = readFingerprint(last.platform);
  return fingerprint ? { kind: 'known', at: last.t, by, fingerprint } : { kind: 'unknown', at: last.t, by };
}

export type UpgradeDecision =
  | { kind: 'unchanged' }
  /** Nothing to compare with: never tuned, or tuned before platforms were recorded. */
  | { kind: 'unknown'; reason: string }
  | { kind: 'changed'; from: Fingerprint; changes: string[] };

const MAX_NAMED = 8;

/** "+BPF_FRAMEWORK -UTMP" (bounded). */
function setDiff(from: readonly string[], to: readonly string[]): string {
  const a = new Set(from);
  const b = new Set(to);
  const diff = [...[...b].filter((x) => !a.has(x)).map((x) => `+${x}`), ...[...a].filter((x) => !b.has(x)).map((x) => `-${x}`)];
  return diff.length > MAX_NAMED ? `${diff.slice(0, MAX_NAMED).join(' ')} …` : diff.join(' ');
}

/** What differs between two fingerprints, one phrase each ("systemd 252 → 257", "kernel 6.1 →
 * 6.12"). A fact unknown on either side is not a difference. */
export function changes(from: Fingerprint, to: Fingerprint): string[] {
  const out: string[] = [];
  if (from.systemd !== to.systemd) out.push(`systemd ${from.systemd} → ${to.systemd}`);
  if (from.kernel !== undefined && to.kernel !== undefined && from.kernel !== to.kernel) out.push(`kernel ${from.kernel} → ${to.kernel}`);
  if (from.features && to.features) {
    const d = setDiff(from.features, to.features);
    if (d) out.push(`systemd features ${d}`);
  }
  if (from.lsm && to.lsm) {
    const d = setDiff(from.lsm, to.lsm);
    if (d) out.push(`LSMs ${d}`);
  }
  return out;
}

/** Should the unit's accepted set be verified again on `now`? */
export function upgradeDecision(records: readonly JournalRecord[], now: Fingerprint): UpgradeDecision {
  const v = verifiedOn(records);
  if (v.kind === 'never') return { kind: 'unknown', reason: 'never tuned' };
  if (v.kind === 'unknown') {
    return { kind: 'unknown', reason: 'its journal does not record the platform it was tuned on (written by an older autoharden): not re-verified' };
  }
  const c = changes(v.fingerprint, now);
  return c.length ? { kind: 'changed', from: v.fingerprint, changes: c } : { kind: 'unchanged' };
}

/** "systemd 252, kernel 6.1" */
export function fingerprintText(f: Fingerprint): string {
  return [`systemd ${f.systemd}`, ...(f.kernel ? [`kernel ${f.kernel}`] : [])].join(', ');
}

/** What status says about it: the platform verified on, and the re-verification pending or done. */
export function verificationText(records: readonly JournalRecord[], pending?: readonly string[]): { verifiedOn?: string; reverify?: string } {
  const v = verifiedOn(records);
  if (v.kind === 'never') return {};
  const on = v.kind === 'known' ? `${fingerprintText(v.fingerprint)} (${v.by === 'reverify' ? 're-verified' : 'tuned'} at ${v.at.slice(0, 40)})` : 'unknown (the journal predates platform records)';
  if (pending?.length) return { verifiedOn: on, reverify: `re-verify pending: ${pending.join(', ')}` };
  const last = [...records].reverse().find((r) => r.kind === 'reverify');
  if (v.by === 'reverify' && last?.kind === 'reverify') {
    // the journal is a file on disk: what status repeats of it is bounded
    const list = (xs: readonly string[]) => xs.slice(0, MAX_NAMED).map((x) => x.slice(0, 100)).join(', ');
    const what = last.changes.length ? ` after ${list(last.changes)}` : '';
    return { verifiedOn: on, reverify: `re-verified at ${last.t.slice(0, 40)}${what}: ${last.outcome}${last.options.length ? ` (rolled back ${list(last.options)})` : ''}` };
  }
  if (v.kind === 'unknown') return { verifiedOn: on, reverify: 'not re-verified after upgrades: the platform it was tuned on is unknown' };
  return { verifiedOn: on };
}
