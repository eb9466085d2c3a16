// export --format profile: the accepted set (folded from the journal) with what it was verified
// against, as a profile (core/profile.ts) another host can apply. What the journal holds comes from
// it (probes, declarations, exposure); what only the running system can say (systemd's features,
// ExecStart, what the unit does) comes from `live`, read where export runs, and when that could not
// be read the journal's platform fingerprint stands in and the facts say why they are empty. Pure.
import type { ExportEnv } from './exportDropIn.js';
import { verifiedOn } from './exportDropIn.js';
import { AutohardenError } from './errors.js';
import { acceptedSet, lastTuneBegin, type JournalRecord } from './journal.js';
import type { Platform } from './platform.js';
import { PROFILE_FORMAT, PROFILE_VERSION, validateProfile, type Profile } from './profile.js';
import { CONTROL } from './text.js';
import type { SafetyFacts } from './types.js';

/** What the running system said when export ran; every part may be missing. */
export interface ProfileLive {
  platform?: Platform;
  /** ExecStart= commands, each its argv. */
  execStart?: string[][];
  facts?: SafetyFacts;
  /** Why `facts` is missing (not running, not readable, no systemd). */
  unobserved?: string;
}

const NO_DECLARATIONS = { allowNet: [], localOnly: false, confineSessions: false };
const plain = (s: string, max: number) => s.length <= max && !CONTROL.test(s);
const FEATURE = /^[A-Z0-9_]{1,64}$/;
const LSM = /^[a-z0-9_]{1,32}$/;

/** The profile of `unit` whose journal holds `records`. AutohardenError Failed when nothing says
 * which systemd verified the set, Config when the journal holds a setting no drop-in may. */
export function buildProfile(unit: string, records: readonly JournalRecord[], env: ExportEnv, live: ProfileLive = {}): Profile {
  const begin = lastTuneBegin(records);
  const verified = verifiedOn(records);
  const systemd = live.platform?.systemdVersion ?? verified?.systemd;
  if (systemd === undefined) {
    throw new AutohardenError('Failed', `cannot tell which systemd verified ${unit}'s set: its journal records no platform and systemd could not be read (${live.unobserved ?? 'no reason given'})`);
  }
  const features = live.platform?.features ? [...live.platform.features].sort() : begin?.platform?.features;
  const lsm = live.platform?.lsm ?? begin?.platform?.lsm;
  const end = records.filter((r) => r.kind === 'tune-end').at(-1);
  const exposure = (x: number | null | undefined) => (typeof x === 'number' && x >= 0 && x <= 10 ? x : null);
  const p: Profile = {
    format: PROFILE_FORMAT,
    version: PROFILE_VERSION,
    unit,
    created: env.date.toISOString(),
    source: {
      host: env.host,
      autoharden: env.version,
      systemd,
      kernel: env.kernelRelease ?? verified?.kernel ?? 'unknown',
      ...(features ? { features: features.filter((f) => FEATURE.test(f)).slice(0, 256) } : {}),
      ...(lsm ? { lsm: lsm.filter((l) => LSM.test(l)).slice(0, 64) } : {}),
    },
    execStart: (live.execStart ?? []).slice(0, 16).map((argv) => argv.slice(0, 256)),
    facts: factsOf(live),
    probes: begin?.probes ?? [],
    // the last tune that recorded them (journals before them have none: nothing declared)
    declarations: records.flatMap((r) => (r.kind === 'tune-begin' && r.declarations ? [r.declarations] : [])).at(-1) ?? NO_DECLARATIONS,
    exposure: {
      before: exposure(end?.kind === 'tune-end' ? end.exposureBefore : begin?.exposure),
      after: exposure(end?.kind === 'tune-end' ? end.exposureAfter : null),
    },
    settings: acceptedSet(records).map((s) => ({
      option: s.option, value: s.value, lines: s.lines,
      ...(s.rung !== undefined ? { rung: s.rung } : {}), ...(s.paths ? { paths: s.paths } : {}), ...(s.items ? { items: s.items } : {}),
    })),
  };
  return validateProfile(p, `${unit}'s profile`);
}

/** What observation showed, bounded; text a service could have chosen (directory names) with a
 * control character is left out rather than failing the export. */
function factsOf(live: ProfileLive): Profile['facts'] {
  const f = live.facts;
  if (!f) return { listens: [], writes: [], uids: [], unobserved: (live.unobserved ?? 'the unit was not observed').slice(0, 512) };
  const listens = [...new Set((f.listeners ?? []).map((l) => `${l.proto}${l.family === 'ipv6' ? '6' : ''}/${l.port}`))].sort();
  return {
    listens: listens.slice(0, 1024),
    writes: (f.writableDirs ?? []).filter((d) => plain(d, 4096)).slice(0, 1024),
    uids: [...new Set(f.uids ?? [])].slice(0, 256),
    ...(f.capsNeeded ? { capsNeeded: f.capsNeeded.filter((c) => /^CAP_[A-Z_]{1,32}$/.test(c.cap)).slice(0, 64).map((c) => ({ cap: c.cap, why: c.why.replace(new RegExp(CONTROL.source, 'g'), ' ').slice(0, 512) })) } : {}),
  };
}
