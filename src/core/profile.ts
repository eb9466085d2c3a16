// A profile: a unit's accepted set with what it was verified against, to carry from the host that
// learned it (the canary) to the hosts that apply it (core of issue 16's fleet work). Versioned and
// validated here, whatever produced the file: a profile is input from another machine, so every
// field is bounded and every setting still passes core/directives.ts before a drop-in holds it.
// Pure: no I/O.
import { z } from 'zod';
import { optionByName } from './catalog.js';
import { checkSetting } from './directives.js';
import { AutohardenError } from './errors.js';
import { shown } from './text.js';

export const PROFILE_FORMAT = 'autoharden-profile';
export const PROFILE_VERSION = 1;
/** Bytes a profile file may have: far above any real one, low enough to read whole. */
export const MAX_PROFILE_BYTES = 1024 * 1024;

const OPTION = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
const UNIT = /^[A-Za-z0-9:_.\\@-]{1,256}\.service$/;
/** Printable text without control characters: shown to people, never parsed for meaning. */
const text = (max: number) => z.string().max(max).regex(/^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$/, 'control characters');

const settingSchema = z
  .object({
    option: z.string().regex(OPTION, 'not an option name'),
    value: text(4096),
    lines: z.array(text(8192)).min(1).max(64),
    rung: text(4096).optional(),
    paths: z.array(text(4096)).max(256).optional(),
    items: z.array(text(256)).max(1024).optional(),
  })
  .strict();

const hostSchema = z
  .object({
    host: text(255),
    autoharden: text(64),
    /** Major version of the PID 1 that verified the set (Manager.Version). */
    systemd: z.number().int().min(1).max(99_999),
    /** Kernel release as uname gives it, e.g. "6.1.0-28-amd64". */
    kernel: text(128),
    features: z.array(z.string().regex(/^[A-Z0-9_]{1,64}$/)).max(256).optional(),
    lsm: z.array(z.string().regex(/^[a-z0-9_]{1,32}$/)).max(64).optional(),
  })
  .strict();

const factsSchema = z
  .object({
    /** Ports it listened on, e.g. "tcp/80". */
    listens: z.array(z.string().regex(/^(tcp|udp)6?\/\d{1,5}$/)).max(1024),
    /** Directories it wrote to. */
    writes: z.array(text(4096)).max(1024),
    uids: z.array(z.number().int().min(0).max(4_294_967_295)).max(256),
    /** Capabilities the kernel showed it needs, with why. */
    capsNeeded: z.array(z.object({ cap: z.string().regex(/^CAP_[A-Z_]{1,32}$/), why: text(512) }).strict()).max(64).optional(),
    /** Why the arrays are empty: the unit was not observed (not running, not readable). */
    unobserved: text(512).optional(),
  })
  .strict();

/** Why merge left a host's setting out: rejected/skipped (an input's own exceptions, kept), missing
 * (not in that host's set), weaker (the merged set keeps a weaker value), conflict (the hosts'
 * values cannot be ordered: the option is left out). */
export const EXCEPTION_STATUSES = ['rejected', 'skipped', 'missing', 'weaker', 'conflict'] as const;
export type MergeException = NonNullable<Profile['merged']>['exceptions'][number];

/** A host's verdict on one setting of a profile (apply's result, merge's exceptions). */
export const settingResultSchema = z
  .object({
    option: z.string().regex(OPTION),
    value: text(4096),
    status: z.enum(['applied', 'rejected', 'skipped']),
    /** Why it was rejected or skipped; absent for applied. */
    reason: text(4096).optional(),
  })
  .strict();
export type SettingResult = z.infer<typeof settingResultSchema>;

export const profileSchema = z
  .object({
    format: z.literal(PROFILE_FORMAT),
    version: z.literal(PROFILE_VERSION),
    unit: z.string().regex(UNIT, 'not a service unit name'),
    created: z.iso.datetime({ offset: true }),
    /** Where the set was verified. */
    source: hostSchema,
    /** ExecStart= as systemd reports it: each command's argv. */
    execStart: z.array(z.array(text(4096)).max(256)).max(16),
    facts: factsSchema,
    /** The probes the set passed, as given on the command line (exec probes as their command). */
    probes: z.array(text(4096)).max(32),
    /** What the user declared about reach when the set was learned (tune's --allow-net …). */
    declarations: z
      .object({ allowNet: z.array(text(64)).max(256), localOnly: z.boolean(), confineSessions: z.boolean() })
      .strict(),
    /** systemd-analyze security's exposure before and after, on the source host. */
    exposure: z.object({ before: z.number().min(0).max(10).nullable(), after: z.number().min(0).max(10).nullable() }).strict(),
    settings: z.array(settingSchema).max(256),
    /** Set by merge: the hosts whose results were combined and what each could not take. */
    merged: z
      .object({
        hosts: z.array(text(255)).max(100_000),
        exceptions: z.array(z.object({ host: text(255), option: z.string().regex(OPTION), value: text(4096), status: z.enum(EXCEPTION_STATUSES), reason: text(4096) }).strict()).max(1_000_000),
      })
      .strict()
      .optional(),
  })
  .strict();

export type Profile = z.infer<typeof profileSchema>;

/** A profile from JSON text, or AutohardenError('Config') saying in one line what is wrong. */
export function parseProfile(json: string, origin = 'profile'): Profile {
  if (json.length > MAX_PROFILE_BYTES) throw new AutohardenError('Config', `${origin}: larger than ${MAX_PROFILE_BYTES} bytes`);
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (e) {
    throw new AutohardenError('Config', `${origin}: not JSON (${(e as Error).message.split('\n')[0]})`);
  }
  return validateProfile(data, origin);
}

/** A profile's data checked: the schema, then each setting as a drop-in would hold it (only its
 * own option's directives, nothing systemd would read as more), each option once. */
export function validateProfile(data: unknown, origin = 'profile'): Profile {
  const r = profileSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : '(top)';
    if (issue.path[0] === 'version' && (data as { format?: unknown } | null)?.format === PROFILE_FORMAT) {
      const v = (data as { version?: unknown }).version;
      const said = typeof v === 'number' ? String(v) : shown(String(JSON.stringify(v) ?? 'none'));
      throw new AutohardenError('Config', `${origin}: profile version ${said} is not supported (this autoharden reads version ${PROFILE_VERSION})`);
    }
    if (issue.path[0] === 'format') throw new AutohardenError('Config', `${origin}: not an autoharden profile (format must be ${JSON.stringify(PROFILE_FORMAT)})`);
    throw new AutohardenError('Config', `${origin}: ${where}: ${issue.message.split('\n')[0]}`);
  }
  const seen = new Set<string>();
  r.data.settings.forEach((s, i) => {
    const bad = (why: string) => new AutohardenError('Config', `${origin}: settings.${i}: ${why}`);
    if (seen.has(s.option)) throw bad(`${s.option} appears twice`);
    seen.add(s.option);
    const own = ownKeys(s.option);
    // An option this autoharden does not know (a newer one's) is carried, never written: apply
    // skips it, merge leaves it out. A known one holds only its own directives, written safely.
    if (!own) {
      const l = s.lines.find((x) => !/^[A-Za-z]+=/.test(x));
      if (l !== undefined) throw bad(`line ${shown(l)}: not Key=value`);
      return;
    }
    try {
      checkSetting(s);
    } catch (e) {
      throw bad((e as Error).message);
    }
    for (const l of s.lines) {
      const key = l.slice(0, l.indexOf('='));
      if (!own.has(key)) throw bad(`line ${shown(l)}: ${key} is not a directive of ${s.option}`);
    }
  });
  return r.data;
}

/** Whether a setting merge builds stays within what a profile holds (value, lines, paths, items). */
export function settingFits(s: Profile['settings'][number]): boolean {
  return settingSchema.safeParse(s).success;
}

/** Whether this autoharden knows the option (its catalog has a ladder for it): what a setting of an
 * unknown one says is never written. */
export function knownOption(option: string): boolean {
  return ownKeys(option) !== undefined;
}

/** The directives a setting of `option` may write: its ladder's, learned ReadWritePaths= for the
 * option that learns them, SocketBindAllow= for the ports SocketBindDeny= allows (core/bpfOptions.ts). */
function ownKeys(option: string): ReadonlySet<string> | undefined {
  const spec = optionByName(option);
  if (!spec || spec.ladder.length === 0) return undefined;
  const keys = new Set(spec.ladder.flatMap((r) => r.lines.map((l) => l.slice(0, l.indexOf('=')))));
  if (spec.learnsPaths) keys.add('ReadWritePaths');
  if (keys.has('SocketBindDeny')) keys.add('SocketBindAllow');
  return keys;
}

/** The profile as a file holds it; AutohardenError('Config') when it is not a valid one. */
export function renderProfile(p: Profile): string {
  return `${JSON.stringify(validateProfile(p), null, 2)}\n`;
}
