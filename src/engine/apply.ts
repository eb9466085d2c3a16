// `apply` as the tune engine runs it: one TuneSession whose search is kept within a profile's
// settings (TuneOptions.within): the whole profile in the first trial, then bisection by exclusion
// (core/profileSearch.ts), no rung, option or path beyond the profile. Judged, journaled and
// confirmed as a tune.
import { profileCandidates, rebuildProfile, settingResults, type Rebuilt } from '../core/applyProfile.js';
import { acceptedSet } from '../core/journal.js';
import type { Profile, SettingResult } from '../core/profile.js';
import type { TuneReport } from '../core/report.js';
import { ProfileBisection } from '../core/profileSearch.js';
import type { OptionSpec } from '../core/types.js';
import type { Ports } from './ports.js';
import { tune, type TuneOptions } from './tune.js';

export interface ApplyOutcome {
  report: TuneReport;
  settings: SettingResult[];
}

export type ApplyOptions = Omit<TuneOptions, 'within' | 'strategy' | 'resume' | 'workload' | 'budget' | 'measureRestarts'>;

export async function applyProfile(ports: Ports, o: ApplyOptions, catalog: readonly OptionSpec[], profile: Profile): Promise<ApplyOutcome> {
  const { settings } = profile;
  let rebuilt: Rebuilt[] | undefined;
  const report = await tune(ports, {
    ...o,
    strategy: 'adaptive',
    within: {
      profile: { host: profile.source.host, created: profile.created },
      candidates: (i) => {
        rebuilt = rebuildProfile(settings, i);
        return profileCandidates(rebuilt, settings);
      },
      planner: (candidates) => new ProfileBisection(candidates),
      // one culprit fails the whole profile and every split that holds it: no revert between
      failuresBeforeRevert: 2 + Math.ceil(Math.log2(Math.max(2, settings.length))),
    },
  }, catalog);
  const records = ports.journal.read();
  // an inferred rejection names the failed batch's verdict too: the evidence against it
  const failed = (option: string) => [...records].reverse().find((r) => r.kind === 'trial-end' && r.outcome === 'rejected' && r.settings.some((x) => x.option === option));
  const why = (option: string, reason: string) => {
    const t = failed(option);
    return t?.kind === 'trial-end' && !reason.includes(t.reason) ? `${reason} (trial #${t.trial}: ${t.reason})` : reason;
  };
  const rejected = new Map(report.rejected.map((r) => [r.option, why(r.option, r.reason)]));
  // the set in force as the journal has it after the confirmation (a culprit it found is gone)
  const accepted = acceptedSet(records);
  return { report, settings: settingResults(settings, rebuilt, { accepted, rejected }) };
}
