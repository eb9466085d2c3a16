// apply: a profile learned on another host (export --format profile) applied to this host's unit
// as one trial, the failing part found by bisection within the profile's settings (engine/apply.ts).
// Like tune it runs in this process, never through the daemon: it restarts the unit for minutes
// and reports as it goes, as tune does.
import { z } from 'zod';
import { canonicalCidrs } from '../core/cidr.js';
import { AutohardenError, ERR, Interrupted } from '../core/errors.js';
import { DEFAULT_SETTLE_MS, SETTLE_MAX_MS, SETTLE_MIN_MS } from '../core/limits.js';
import type { Profile, SettingResult } from '../core/profile.js';
import { parseProbeSpec } from '../core/probeSpec.js';
import type { Declarations, ProbeSpec } from '../core/types.js';
import { parseUnitName } from '../core/unitName.js';
import type { ProgressEvent } from '../engine/ports.js';
import type { Stop } from './app.js';
import { requireRoot } from './local.js';
import { readOwnedProfileFile } from './profileFile.js';
import { schemaParser } from './useCase.js';

const schema = z
  .object({
    profile: z.string().min(1, 'a profile file is needed'),
    unit: z.string().transform((u) => parseUnitName(u, { serviceOnly: true })),
    probes: z.array(z.string()).default([]).transform((p) => p.map(parseProbeSpec)),
    allowNet: z.array(z.string()).optional().transform((a) => (a === undefined ? undefined : canonicalCidrs(a))),
    localOnly: z.boolean().optional(),
    confineSessions: z.boolean().optional(),
    settleMs: z.number().int().min(SETTLE_MIN_MS).max(SETTLE_MAX_MS).default(DEFAULT_SETTLE_MS),
    persist: z.boolean().default(true),
  })
  .transform((r) => {
    if (r.localOnly && r.allowNet?.length) throw new ERR.LocalOnlyContradicts();
    return r;
  });
export type ApplyRequest = z.output<typeof schema>;
export const parseApplyRequest = schemaParser(schema);

export interface ApplyResult {
  unit: string;
  profile: { host: string; systemd: number; created: string };
  trials: number;
  restarts: number;
  downtimeMs: number;
  exposure: { before: number; after: number };
  settings: SettingResult[];
  counts: { applied: number; rejected: number; skipped: number };
  warnings: string[];
  persistedTo?: string;
}

/** The probes apply judges by: --probe, else the profile's (its commands only from a file root alone
 * can write: they would run as root). */
export function probesFor(req: Pick<ApplyRequest, 'probes' | 'profile'>, profile: Profile, rootOnly: boolean): ProbeSpec[] {
  if (req.probes.length) return req.probes;
  const probes = profile.probes.map((raw) => {
    try {
      return parseProbeSpec(raw);
    } catch (e) {
      throw new AutohardenError('Config', `${req.profile}: ${(e as Error).message}`);
    }
  });
  const exec = probes.find((p) => p.kind === 'exec');
  if (exec && !rootOnly) {
    throw new AutohardenError('Usage', `${req.profile} holds the probe ${JSON.stringify(exec.raw)}, a command that would run as root, and the file is not owned by root or is writable by others: pass --probe`);
  }
  return probes;
}

/** The user's declarations when any is given on the command line, else the profile's. */
export function declarationsFor(req: ApplyRequest, profile: Profile): Declarations {
  if (req.allowNet !== undefined || req.localOnly !== undefined || req.confineSessions !== undefined) {
    return { allowNet: req.allowNet ?? [], localOnly: req.localOnly ?? false, confineSessions: req.confineSessions ?? false };
  }
  const d = profile.declarations;
  try {
    if (d.localOnly && d.allowNet.length) throw new ERR.LocalOnlyContradicts();
    return { allowNet: canonicalCidrs(d.allowNet), localOnly: d.localOnly, confineSessions: d.confineSessions };
  } catch (e) {
    throw new AutohardenError('Config', `${req.profile}: declarations: ${(e as Error).message}`);
  }
}

const firstLine = (e: unknown) => (e as Error).message.split('\n')[0];

/** Reads and checks the profile (changing nothing when it is bad), then applies it. */
export async function runApply(req: ApplyRequest, stateDir: string, progress: (e: ProgressEvent) => void, stopper: () => Stop): Promise<ApplyResult> {
  const { profile, rootOnly } = readOwnedProfileFile(req.profile);
  const { unit, settleMs } = req;
  if (profile.unit !== unit) throw new AutohardenError('Usage', `${req.profile} is a profile for ${profile.unit}, not ${unit}`);
  const probes = probesFor(req, profile, rootOnly);
  const declarations = declarationsFor(req, profile);
  requireRoot();
  const [{ buildPorts, connectSystemd }, { CATALOG }, { recoverUnit }, { applyProfile }, { refuseProtectedUnit }, { lockFor }] = await Promise.all([
    import('../compose.js'), import('../core/catalog.js'), import('../engine/recover.js'), import('../engine/apply.js'), import('../core/protectedUnits.js'),
    import('../compose/state.js'),
  ]);
  const systemd = await connectSystemd();
  try {
    const ports = buildPorts(systemd, unit, { stateDir, progress });
    const info = await systemd.unitInfo(unit);
    refuseProtectedUnit('tune', unit, info);
    if (info.loadState !== 'loaded') throw new ERR.NotLoaded(unit, info.loadState);
    if (info.activeState !== 'active' && ports.journal.read().length === 0) throw new ERR.NotRunning(unit, info.activeState);
    if (probes.length === 0) progress({ type: 'info', message: `warning: neither --probe nor the profile gives a probe: trials are judged by ${unit} staying up alone` });
    const stop = stopper();
    const release = lockFor(stateDir)(unit, info.id);
    try {
      const { report, settings } = await applyProfile(ports, { unit, probes, settleMs, persist: req.persist, declarations, signal: stop.signal }, CATALOG, profile);
      const count = (s: SettingResult['status']) => settings.filter((r) => r.status === s).length;
      return {
        unit,
        profile: { host: profile.source.host, systemd: profile.source.systemd, created: profile.created },
        trials: report.trials,
        restarts: report.restarts,
        downtimeMs: report.downtimeMs ?? 0,
        exposure: { before: report.exposureBefore, after: report.exposureAfter },
        settings,
        counts: { applied: count('applied'), rejected: count('rejected'), skipped: count('skipped') },
        warnings: report.warnings,
        ...(report.persistedTo ? { persistedTo: report.persistedTo } : {}),
      };
    } catch (e) {
      const sig = stop.received();
      // I1: no trial drop-in outlives this command
      if (!sig) {
        await recoverUnit(ports, unit, { settleMs, probes, reason: `apply failed (${firstLine(e)}); reverted` })
          .catch((r: unknown) => progress({ type: 'info', message: `WARNING: could not revert ${unit}: ${firstLine(r)}` }));
        throw e;
      }
      await recoverUnit(ports, unit, { settleMs, probes, reason: `interrupted by ${sig}; reverted` });
      throw new Interrupted(sig, `interrupted by ${sig}; the unfinished trial was reverted`);
    } finally {
      release();
    }
  } finally {
    systemd.close();
  }
}
