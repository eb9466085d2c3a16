// merge: the profiles several hosts exported (each after `apply`) combined into the set that worked
// on all of them, with what each host could not take. Only what the hosts verified, or something
// weaker than what each verified (the catalog's ladder, strongest first, says what is weaker); a
// value no host verified as such is said so in the exceptions' reasons. Pure.
import { CAPABILITIES, maskFromCaps } from './capabilities.js';
import { CAPS_LADDER, capabilityStep } from './boundingSet.js';
import { optionByName } from './catalog.js';
import { AutohardenError } from './errors.js';
import { withWritablePaths } from './learn.js';
import { toSetting } from './plan.js';
import { knownOption, settingFits, validateProfile, type MergeException, type Profile } from './profile.js';
import { rungOf } from './setting.js';
import type { OptionSpec, Setting } from './types.js';

type ProfileSetting = Profile['settings'][number];

export interface MergeInput {
  profile: Profile;
  /** Where it came from (a file name), for messages. */
  origin: string;
}

export interface MergeResult {
  profile: Profile;
  /** Settings kept, hosts combined, exceptions listed (the inputs' own included). */
  kept: number;
  hosts: number;
  exceptions: number;
  /** Inputs left out (an earlier profile of a host given twice), for people. */
  notes: string[];
}

/** A value merge chose for an option whose hosts disagree, or why there is none. */
type Choice = { setting: ProfileSetting; how: string } | { conflict: string };

const MAX_NAMED = 5;
/** profile.ts bounds an exception's reason so. */
const MAX_REASON = 4096;
const named = (hosts: readonly string[]) =>
  hosts.length <= MAX_NAMED ? hosts.join(', ') : `${hosts.slice(0, MAX_NAMED).join(', ')} and ${hosts.length - MAX_NAMED} more`;
/** Same option, value and lines: the same drop-in. */
const key = (s: ProfileSetting) => JSON.stringify([s.value, s.lines]);

/** The hosts an input stands for: a merged profile's, else its source's. */
const hostsOf = (p: Profile): string[] => p.merged?.hosts ?? [p.source.host];

/**
 * The settings every input kept, and for an option they all have with different values the weakest
 * (ladder order) or a union the catalog can build (learned ReadWritePaths, the capabilities a
 * bounding set keeps). The result's `source`, `execStart`, `facts`, `probes` and `declarations`
 * are the first input's; its exposure is unknown (nulls): no host measured the merged set.
 * A host given twice counts once, with its latest profile (latestPerHost). AutohardenError Usage
 * for no input, profiles of different units, or a host that merged profiles hold twice.
 */
export function mergeProfiles(all: readonly MergeInput[], now = new Date()): MergeResult {
  if (!all[0]) throw new AutohardenError('Usage', 'merge needs at least one profile');
  const unit = all[0].profile.unit;
  for (const { profile, origin } of all) {
    if (profile.unit !== unit) throw new AutohardenError('Usage', `${origin} is a profile of ${profile.unit}, ${all[0].origin} of ${unit}: merge profiles of one unit`);
  }
  const { inputs, notes } = latestPerHost(all);
  const first = inputs[0]!;
  const seen = new Map<string, string>();
  for (const { profile, origin } of inputs) {
    for (const h of hostsOf(profile)) {
      const other = seen.get(h);
      if (other !== undefined) throw new AutohardenError('Usage', `${origin} and ${other} both hold host ${JSON.stringify(h)}: give each host's profile once`);
      seen.set(h, origin);
    }
  }

  const exceptions: MergeException[] = [];
  const listed = new Set<string>();
  // a host's option listed once: an input's own merge said it first
  const except = (e: MergeException) => {
    const k = JSON.stringify([e.host, e.option, e.status]);
    if (listed.has(k)) return;
    listed.add(k);
    // two values and a host in one reason may pass the bound a reason has
    exceptions.push(e.reason.length > MAX_REASON ? { ...e, reason: `${e.reason.slice(0, MAX_REASON - 3)}...` } : e);
  };
  for (const i of inputs) for (const e of i.profile.merged?.exceptions ?? []) except(e);
  const settings: ProfileSetting[] = [];
  const options = [...new Set(inputs.flatMap((i) => i.profile.settings.map((s) => s.option)))];
  for (const option of options) {
    const held = inputs.map((i) => ({ hosts: hostsOf(i.profile), s: i.profile.settings.find((x) => x.option === option) }));
    const have = held.filter((h): h is { hosts: string[]; s: ProfileSetting } => h.s !== undefined);
    if (have.length < held.length) {
      const value = have[0]!.s.value;
      const keptBy = named(have.flatMap((h) => h.hosts));
      for (const h of held) {
        const whose = (host: string) => (h.hosts.length > 1 ? `the merged set that holds ${host}` : `${host}'s accepted set`);
        if (!h.s) for (const host of h.hosts) except({ host, option, value, status: 'missing', reason: `not in ${whose(host)} (${keptBy} kept ${option}=${value}): left out` });
      }
      continue;
    }
    if (!knownOption(option)) {
      for (const h of have) for (const host of h.hosts) except({ host, option, value: h.s.value, status: 'skipped', reason: `${option} is an option this autoharden does not know: left out` });
      continue;
    }
    if (new Set(have.map((h) => key(h.s))).size === 1) {
      settings.push(have[0]!.s);
      continue;
    }
    const choice = choose(optionByName(option), have.map((h) => h.s), have.map((h) => h.hosts));
    if ('conflict' in choice) {
      for (const h of have) for (const host of h.hosts) except({ host, option, value: h.s.value, status: 'conflict', reason: `${choice.conflict}: ${option} left out` });
      continue;
    }
    settings.push(choice.setting);
    for (const h of have) {
      if (key(h.s) === key(choice.setting)) continue;
      for (const host of h.hosts) {
        except({ host, option, value: h.s.value, status: 'weaker', reason: `${host} verified ${option}=${h.s.value}; the merged set keeps ${choice.setting.value}, ${choice.how}` });
      }
    }
  }

  const hosts = inputs.flatMap((i) => hostsOf(i.profile));
  const merged: Profile = {
    ...first.profile,
    created: now.toISOString(),
    exposure: { before: null, after: null },
    settings,
    merged: { hosts, exceptions },
  };
  return { profile: validateProfile(merged, 'merged profile'), kept: settings.length, hosts: hosts.length, exceptions: exceptions.length, notes };
}

/** One profile per host: of two a host exported (the canary's learned one and its export after
 * apply), the one created last, the later argument on a tie. A merged input stands as it is. */
function latestPerHost(all: readonly MergeInput[]): { inputs: MergeInput[]; notes: string[] } {
  const latest = new Map<string, number>();
  all.forEach((i, n) => {
    if (i.profile.merged) return;
    const h = i.profile.source.host;
    const had = latest.get(h);
    if (had === undefined || Date.parse(i.profile.created) >= Date.parse(all[had]!.profile.created)) latest.set(h, n);
  });
  const notes: string[] = [];
  const inputs = all.filter((i, n) => {
    if (i.profile.merged) return true;
    const keep = latest.get(i.profile.source.host)!;
    if (keep !== n) notes.push(`${i.origin} left out: ${all[keep]!.origin} is a later profile of host ${JSON.stringify(i.profile.source.host)}`);
    return keep === n;
  });
  return { inputs, notes };
}

/** For an option all hosts hold with different values: a union the catalog builds, else the
 * weakest of their ladder rungs when one value holds it, else a conflict. */
function choose(spec: OptionSpec | undefined, ss: readonly ProfileSetting[], hosts: readonly string[][]): Choice {
  if (!spec) return { conflict: 'an option this autoharden does not know' }; // not reached: knownOption
  const verifiedBy = (s: ProfileSetting) => named(hosts.filter((_, i) => key(ss[i]!) === key(s)).flat());
  if (spec.ladder === CAPS_LADDER) return unionCaps(ss, verifiedBy);
  const at = ss.map((s) => spec.ladder.findIndex((r) => r.value === rungOf(s as Setting)));
  if (at.some((i) => i < 0)) return { conflict: 'values that are not rungs of its ladder, which cannot be ordered' };
  const w = Math.max(...at);
  const weakest = ss.filter((_, i) => at[i] === w);
  if (new Set(weakest.map(key)).size === 1) return { setting: weakest[0]!, how: `the weakest of the hosts' values (${spec.ladder[w]!.value}), which ${verifiedBy(weakest[0]!)} verified` };
  if (spec.learnsPaths?.rung === spec.ladder[w]!.value && weakest.every((s) => s.items === undefined)) return unionPaths(spec, w, weakest, verifiedBy);
  return { conflict: `values at the same rung (${spec.ladder[w]!.value}) that differ in what they allow` };
}

/** The learning rung with every directory some host learned writable: more writable than what each
 * host verified. */
function unionPaths(spec: OptionSpec, w: number, ss: readonly ProfileSetting[], verifiedBy: (s: ProfileSetting) => string): Choice {
  const union = [...new Set(ss.flatMap((s) => s.paths ?? []))].sort();
  const same = ss.find((s) => JSON.stringify([...(s.paths ?? [])].sort()) === JSON.stringify(union));
  if (same) return { setting: same, how: `whose ReadWritePaths= hold every directory the hosts learned, which ${verifiedBy(same)} verified` };
  const built = toSetting(spec, withWritablePaths(spec.ladder[w]!, union));
  if (!settingFits(built)) return { conflict: `the union of the ReadWritePaths= the hosts learned (${union.length} directories) is more than a profile holds` };
  return { setting: built, how: 'the union of the ReadWritePaths= the hosts learned: more writable than what each host verified; no host verified this exact value' };
}

/** The bounding set keeping every capability some host kept: it allows more than each host's. */
function unionCaps(ss: readonly ProfileSetting[], verifiedBy: (s: ProfileSetting) => string): Choice {
  const kept = ss.map(keptCaps);
  if (kept.some((k) => k === undefined)) return { conflict: 'a bounding set whose capabilities this autoharden cannot read' };
  const union = new Set(kept.flatMap((k) => k!));
  const i = kept.findIndex((k) => k!.length === union.size);
  if (i >= 0) return { setting: ss[i]!, how: `keeping every capability some host kept, which ${verifiedBy(ss[i]!)} verified` };
  const built = capabilityStep({}, CAPABILITIES.filter((c) => !union.has(c)));
  return { setting: built, how: 'the union of the capabilities the hosts kept: it allows more than what each host verified; no host verified this exact value' };
}

/** The capabilities a bounding-set setting keeps: its items, or its ladder rung's; undefined when
 * neither is readable. */
function keptCaps(s: ProfileSetting): string[] | undefined {
  if (s.items) {
    try {
      maskFromCaps(s.items);
    } catch {
      return undefined; // a capability this autoharden does not know
    }
    return [...new Set(s.items)];
  }
  const rung = CAPS_LADDER.find((r) => r.value === rungOf(s as Setting));
  return rung ? CAPABILITIES.filter((c) => rung.inForce({ CapabilityBoundingSet: maskFromCaps([c]) })) : undefined;
}
