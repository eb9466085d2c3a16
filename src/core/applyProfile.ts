// `apply`: a profile's settings rebuilt on this host (issue 16). A profile comes from another
// machine, so its lines are never written as they are: each setting is rendered again from this
// host's catalog (option, rung, learned paths, items) against this host's effective settings,
// observation and declarations, and refused when the result is not the profile's lines. The
// search then runs over these candidates only: one rung each, nothing weaker, nothing new.
// A unit tuned (or applied) here before: the profile goes on top of the accepted set. A setting the
// set already holds with the same lines is applied (nothing to do); with other lines it is skipped
// (`rollback --option` first): apply never swaps what this host verified for another host's word.
// Pure.
import { renderRung, unusableReason, usableOptions } from './catalog.js';
import type { CandidateInput, Skip } from './candidates.js';
import { checkSetting } from './directives.js';
import { withWritablePaths } from './learn.js';
import { normalisePath, writableRoots } from './paths.js';
import { toSetting, type Candidate } from './plan.js';
import { applySafetyPolicy } from './policy.js';
import type { Profile, SettingResult } from './profile.js';
import type { EffectiveSettings, OptionSpec, Rung, Setting } from './types.js';

export type ProfileSetting = Profile['settings'][number];

/** The chance each setting of a profile is given (another host took it): for `plan`'s estimates;
 * apply's own search (core/profileSearch.ts) tries the whole profile first whatever it is. */
export const PROFILE_PRIOR = 0.95;

/** What this host makes of one profile setting before any trial. */
export type Rebuilt =
  | { status: 'skipped'; reason: string }
  /** Nothing to do: already in force here. */
  | { status: 'applied'; reason: string }
  | { status: 'try'; setting: Setting; candidate: Candidate };

export interface RebuildInput extends CandidateInput {
  realDir?: (path: string) => string | undefined;
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const sameSet = (a: readonly string[], b: readonly string[]) => sameList([...new Set(a)].sort(), [...new Set(b)].sort());
const describe = (s: { option: string; value: string }) => `${s.option}=${s.value}`;

/** Each profile setting as this host would write it, or why it is skipped or needs nothing. */
export function rebuildProfile(settings: readonly ProfileSetting[], i: RebuildInput): Rebuilt[] {
  const seen = new Set<string>();
  return settings.map((ps) => {
    if (seen.has(ps.option)) return { status: 'skipped', reason: `the profile holds ${ps.option} twice; only its first setting is taken` };
    seen.add(ps.option);
    return rebuildOne(ps, i);
  });
}

function rebuildOne(ps: ProfileSetting, i: RebuildInput): Rebuilt {
  const skip = (reason: string): Rebuilt => ({ status: 'skipped', reason });
  const full = i.catalog.find((o) => o.name === ps.option);
  if (!full) return skip(`${ps.option} is not an option this autoharden knows`);
  try {
    checkSetting(ps);
  } catch (e) {
    return skip((e as Error).message);
  }
  if (full.explainOnly) return skip(`${ps.option} is never applied by autoharden: ${full.explainOnly}`);
  const lacks = unusableReason(full, i.platform);
  const spec = usableOptions([full], i.platform)[0];
  if (!spec) return skip(lacks ?? `${ps.option} cannot be used on systemd ${i.platform.systemdVersion}`);
  const rungName = ps.rung ?? ps.value;
  const known = full.ladder.find((r) => r.value === rungName);
  if (known && !spec.ladder.includes(known)) {
    return skip(unusableReason({ ...full, needs: undefined, ladder: [known] }, i.platform) ?? `${describe(ps)} cannot be used on systemd ${i.platform.systemdVersion}`);
  }
  if (!known && !ps.items) return skip(`${rungName} is not a value this autoharden knows for ${ps.option}`);
  const earlier = i.accepted.find((a) => a.option === ps.option);
  if (earlier) {
    return sameList(earlier.lines, ps.lines)
      ? { status: 'applied', reason: 'already accepted here by an earlier tune or apply' }
      : skip(`already accepted here as ${describe(earlier)} by an earlier tune or apply; roll it back first (rollback --option ${ps.option}) to take the profile's`);
  }
  if (i.rolledBack.has(ps.option)) return skip('rolled back here by the user; not applied again until `rollback --all`');
  const built = ps.items ? withItems(ps, spec, rungName, i) : withRung(ps, spec, known!, i);
  if ('status' in built) return built;
  const { rung } = built;
  const setting = { ...toSetting(spec, rung), option: spec.name };
  if (!sameList(setting.lines, ps.lines)) {
    return skip(`its lines (${ps.lines.join(' | ')}) are not what this host writes for ${describe(ps)} (${setting.lines.join(' | ')})`);
  }
  try {
    checkSetting(setting);
  } catch (e) {
    return skip((e as Error).message);
  }
  const candidate: Candidate = { spec: { ...spec, prior: PROFILE_PRIOR, priorFrom: undefined, priorCounts: undefined }, rungs: [rung] };
  return { status: 'try', setting, candidate };
}

type Built = { rung: Rung } | Rebuilt;

/** A ladder rung, with learned writable directories when the profile carries them. */
function withRung(ps: ProfileSetting, spec: OptionSpec, base: Rung, i: RebuildInput): Built {
  const paths = ps.paths ?? [];
  if (paths.length) {
    if (spec.learnsPaths?.rung !== base.value) return { status: 'skipped', reason: `${describe(ps)} carries learned paths, which ${ps.option}=${base.value} never has` };
    const bad = pathProblem(paths, i);
    if (bad) return { status: 'skipped', reason: bad };
  }
  // in force here already: its learned paths would only loosen what the vendor set
  if (base.inForce(i.eff)) return { status: 'applied', reason: 'already in force on this host (set by the vendor or admin)' };
  const lines = renderRung(spec, base, i.eff);
  if (!lines) return { status: 'skipped', reason: `cannot be written here as a pure tightening of the vendor's ${ps.option}; left as it is` };
  const rendered = withWritablePaths({ ...base, lines }, paths);
  const admitted = policy(spec, [rendered], i);
  if ('status' in admitted) return admitted;
  const rung = admitted.rungs.find((r) => r.value === rendered.value);
  if (!rung) {
    const why = admitted.dropped?.find((d) => d.value === rendered.value)?.reason;
    return { status: 'skipped', reason: why ?? `${spec.safety}: this host's observation and declarations do not allow ${describe(ps)}` };
  }
  return { rung };
}

/** A setting built beyond the ladder (from observation, declarations or a minimisation): this
 * host's own policy and minimisation must build the same items, or it is skipped. */
function withItems(ps: ProfileSetting, spec: OptionSpec, rungName: string, i: RebuildInput): Built {
  const items = ps.items!;
  if (spec.itemsInForce?.(items, i.eff)) return { status: 'applied', reason: 'already in force on this host (set by the vendor or admin)' };
  const rendered = spec.ladder.flatMap((r) => {
    const lines = renderRung(spec, r, i.eff);
    return lines ? [{ ...r, lines }] : [];
  });
  const admitted = policy(spec, rendered, i);
  if ('status' in admitted) return admitted;
  const named = (r: { value: string; rung?: string }) => (r.rung ?? r.value) === rungName;
  const direct = admitted.rungs.find((r) => r.items && sameSet(r.items, items) && named(r));
  if (direct) return { rung: direct };
  // a minimised setting: this host's minimisation step from an admitted rung to the same items
  const m = spec.minimise;
  if (m) {
    for (const r of admitted.rungs) {
      const base = toSetting(spec, r);
      const allowed = m.items(i.eff, base);
      for (const removed of [items, allowed.filter((x) => !items.includes(x))]) {
        const step = m.step(i.eff, base, removed);
        if (step.items && sameSet(step.items, items) && (step.rung ?? step.value) === rungName) {
          const { option: _o, ...rest } = step;
          return { rung: { ...rest, residual: r.residual, inForce: (eff: EffectiveSettings) => spec.itemsInForce?.(items, eff) ?? false } };
        }
      }
    }
  }
  const here = admitted.rungs.map((r) => r.value).join('; ') || 'nothing';
  return { status: 'skipped', reason: `built on the source host from what it observed (${describe(ps)}); this host's observation and declarations give ${here}` };
}

/** The safety policy with this host's facts: a profile never makes apply limit reach here. */
function policy(spec: OptionSpec, rungs: Rung[], i: RebuildInput): { rungs: Rung[]; dropped?: Array<{ value: string; reason: string }> } | Rebuilt {
  const d = applySafetyPolicy(spec, rungs, i.facts, i.declarations, i.eff);
  if ('skip' in d) return { status: 'skipped', reason: `${spec.safety}: ${d.skip}` };
  return d;
}

/** Learned writable directories are kept only where this host's unit may keep state (its own
 * directories and names, as a tune learns them), each the root that makes it writable. */
function pathProblem(paths: readonly string[], i: RebuildInput): string | undefined {
  if (!i.writableScope) return 'this host cannot tell where the unit keeps its state, so the learned paths cannot be checked';
  for (const p of paths) {
    if (normalisePath(p) !== p) return `learned path ${JSON.stringify(p)} is not a plain absolute path`;
    if (!sameList(writableRoots([p], i.writableScope, i.realDir), [p])) return `learned path ${p} is outside this unit's own directories here`;
  }
  return undefined;
}

/** The candidates and skips `tune`'s search takes (engine/tune/search.ts `within`), with what
 * each profile setting became kept for the result. */
export function profileCandidates(rebuilt: readonly Rebuilt[], settings: readonly ProfileSetting[]): { candidates: Candidate[]; skipped: Skip[] } {
  const candidates: Candidate[] = [];
  const skipped: Skip[] = [];
  rebuilt.forEach((r, n) => {
    const ps = settings[n]!;
    if (r.status === 'try') candidates.push(r.candidate);
    else if (r.status === 'skipped') skipped.push({ option: ps.option, value: ps.value, reason: r.reason });
  });
  return { candidates, skipped };
}

/** What the trials said about the settings tried: accepted ones, and the reason of each rejection. */
export interface TrialOutcome {
  accepted: readonly Setting[];
  rejected: ReadonlyMap<string, string>;
}

/** One result per profile setting, in the profile's order. */
export function settingResults(settings: readonly ProfileSetting[], rebuilt: readonly Rebuilt[] | undefined, t: TrialOutcome): SettingResult[] {
  return settings.map((ps, n) => {
    const r = rebuilt?.[n];
    const base = { option: ps.option, value: ps.value };
    if (!r) return { ...base, status: 'skipped', reason: 'not reached: apply stopped before it read this host' };
    if (r.status === 'skipped') return { ...base, status: 'skipped', reason: r.reason };
    if (r.status === 'applied') return { ...base, status: 'applied', reason: r.reason };
    if (t.accepted.some((a) => a.option === r.setting.option && sameList(a.lines, r.setting.lines))) return { ...base, status: 'applied' };
    return { ...base, status: 'rejected', reason: t.rejected.get(ps.option) ?? 'not accepted: the trials that held it failed' };
  });
}
