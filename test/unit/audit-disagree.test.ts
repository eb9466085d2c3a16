// Where the score and the battery disagree (core/auditDisagree.ts): each kind on the settings that
// make it, agreement said nothing of, and the battery's text (which crosses the sandbox it probes)
// unable to break or inject into a line.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auditReport } from '../../src/app/audit.js';
import { tuneAudit, type BatteryRun } from '../../src/app/tuneAudit.js';
import { formatAudit } from '../../src/cli/auditCommands.js';
import { formatTuneReport } from '../../src/cli/format.js';
import { TECHNIQUES, TECHNIQUE_IDS, blockingDirectives, summarise, techniqueById, type AuditOutcome, type TechniqueResult } from '../../src/core/audit.js';
import type { AnalyzeRow } from '../../src/core/analyzeRows.js';
import { BLOCKERS, DISAGREE_PROPERTIES, disagreements } from '../../src/core/auditDisagree.js';
import { recordSchema, type JournalRecord } from '../../src/core/journal.js';
import type { TuneReport } from '../../src/core/report.js';
import { buildReport } from '../../src/core/reportDoc.js';
import { renderMarkdown } from '../../src/core/reportRender.js';
import { CONTROL } from '../../src/core/text.js';
import type { EffectiveSettings } from '../../src/core/types.js';

const ALL_CAPS = 2 ** 41 - 1; // cap_last_cap 40
const ALL_NS = 0x00020000 + 0x02000000 + 0x04000000 + 0x08000000 + 0x10000000 + 0x20000000 + 0x40000000 + 0x00000080;
/** A stock root unit: nothing restricted. */
const STOCK: EffectiveSettings = {
  User: '', DynamicUser: false, ProtectSystem: 'no', ProtectHome: 'no', PrivateTmp: false, PrivateDevices: false, NoExecPaths: [], ExecPaths: [],
  ReadOnlyPaths: [], ReadWritePaths: [], InaccessiblePaths: [], CapabilityBoundingSet: ALL_CAPS, AmbientCapabilities: 0, RestrictNamespaces: ALL_NS,
  SystemCallFilter: { allow: false, items: [] }, RestrictAddressFamilies: { allow: false, items: [] }, NoNewPrivileges: false,
};
/** analyze's checks: every one credited (badness 0) unless listed in `worst`. */
const rows = (worst: string[] = []): AnalyzeRow[] =>
  ['ProtectSystem', 'ProtectHome', 'UserOrDynamicUser', 'PrivateTmp', 'NoNewPrivileges', 'RestrictNamespaces_user', 'CapabilityBoundingSet_CAP_DAC_FOWNER_IPC_OWNER', 'CapabilityBoundingSet_CAP_NET_BIND_SERVICE_BROADCAST_RAW)', 'SystemCallFilter_debug']
    .map((field) => ({ field, weight: 1000, range: 10, badness: worst.includes(field) ? 10 : 0 }));
const res = (outcomes: Record<string, AuditOutcome>, detail = 'EPERM'): TechniqueResult[] => Object.entries(outcomes).map(([id, outcome]) => ({ id, outcome, detail }));
const lines = (o: Record<string, AuditOutcome>, eff: EffectiveSettings, r: AnalyzeRow[] = rows(), detail?: string) =>
  disagreements(res(o, detail), eff, r).disagreements.map((d) => d.line);

describe('the table of what should block each technique', () => {
  it('covers every technique of the battery, and only those', () => {
    expect(Object.keys(BLOCKERS).sort()).toEqual([...TECHNIQUE_IDS].sort());
    for (const id of TECHNIQUE_IDS) {
      expect(BLOCKERS[id]!.blockers.length, id).toBeGreaterThan(0);
      expect(BLOCKERS[id]!.host.length, id).toBeGreaterThan(3);
    }
    expect(DISAGREE_PROPERTIES).toEqual(expect.arrayContaining(['ProtectSystem', 'NoExecPaths', 'CapabilityBoundingSet', 'RestrictNamespaces', 'SystemCallFilter']));
  });

  it("names only settings that core/audit.ts says block the technique", () => {
    // every unit setting turned on at once: each label's directive must be among the technique's blockers
    const hard: EffectiveSettings = {
      ...STOCK, User: 'www-data', ProtectSystem: 'strict', ProtectHome: 'yes', NoExecPaths: ['/'], ReadOnlyPaths: ['/'], InaccessiblePaths: ['/etc/shadow', '/root', '/home'],
      CapabilityBoundingSet: 0, RestrictNamespaces: 0, SystemCallFilter: { allow: true, items: ['read'] }, RestrictAddressFamilies: { allow: true, items: ['AF_UNIX'] },
      NoNewPrivileges: true, MemoryDenyWriteExecute: true, ProtectProc: 'invisible', PrivatePIDs: 'yes', ProtectKernelModules: true, ProtectKernelLogs: true,
      ProtectKernelTunables: true, ProtectClock: true, ProtectHostname: true, PrivateNetwork: true, PrivateUsers: true, DevicePolicy: 'closed', SocketBindDeny: ['any'],
      IPAddressDeny: [{ family: 2, address: '0.0.0.0', prefix: 0 }], StateDirectory: ['x'],
    };
    for (const t of TECHNIQUES) {
      const allowed = new Set([...blockingDirectives(t), 'User', 'DynamicUser']);
      for (const b of BLOCKERS[t.id]!.blockers) {
        const label = b.inForce(hard);
        if (label === undefined) continue;
        expect(allowed.has(/^[A-Za-z]+/.exec(label)![0]), `${t.id}: ${label}`).toBe(true);
      }
    }
  });
});

describe('score and battery compared', () => {
  it('says a scored setting in force whose technique stayed possible', () => {
    expect(lines({ 'write-usr': 'possible' }, { ...STOCK, ProtectSystem: 'strict' })).toEqual(['scored but possible: write-usr (ProtectSystem=strict is in force)']);
    // root without CAP_DAC_*: analyze credits it, /etc/shadow is root's own file
    const [shadow] = disagreements(res({ 'read-shadow': 'possible' }), { ...STOCK, CapabilityBoundingSet: 2 ** 10 }, rows()).disagreements;
    expect(shadow).toMatchObject({ kind: 'scored-but-possible', id: 'read-shadow', settings: ['CapabilityBoundingSet= without CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH'] });
    expect(shadow!.note).toMatch(/root owns \/etc\/shadow/);
  });

  it('says a setting shown in force but not reaching the technique (NoExecPaths=/ and PrivateTmp= /tmp)', () => {
    const [d] = disagreements(res({ 'exec-tmp': 'possible' }), { ...STOCK, NoExecPaths: ['/'], PrivateTmp: true }, rows()).disagreements;
    expect(d).toMatchObject({ kind: 'set-but-possible', id: 'exec-tmp', settings: ['NoExecPaths=/'] });
    expect(d!.line).toBe("set but possible: exec-tmp (NoExecPaths=/ is set; PrivateTmp=yes makes /tmp a mount of the unit's own, which a setting on a parent does not reach)");
    // ExecPaths= reopening /tmp: not in force, so nothing to say
    expect(lines({ 'exec-tmp': 'possible' }, { ...STOCK, NoExecPaths: ['/'], ExecPaths: ['/tmp'] })).toEqual([]);
  });

  it('says a technique blocked by nothing the score counts: an unscored setting, or the host', () => {
    expect(lines({ 'user-namespace': 'blocked' }, STOCK, rows(), 'ENOSPC')).toEqual([
      'blocked, not scored: user-namespace (host: user.max_user_namespaces=0, kernel.unprivileged_userns_clone=0 or an LSM; the battery: ENOSPC)',
    ]);
    // a system service gets no_new_privs from NoNewPrivileges= alone (not from SystemCallFilter=, seen in a box)
    expect(lines({ 'setuid-binary': 'possible' }, { ...STOCK, User: 'nginx', SystemCallFilter: { allow: true, items: ['read'] } })).toEqual([]);
    expect(lines({ 'setuid-binary': 'possible' }, { ...STOCK, User: 'nginx', NoNewPrivileges: true })).toEqual(['scored but possible: setuid-binary (NoNewPrivileges=yes is in force)']);
    expect(lines({ 'read-shadow': 'blocked' }, { ...STOCK, InaccessiblePaths: ['-/etc/shadow'] })).toEqual(['blocked, not scored: read-shadow (by InaccessiblePaths=/etc/shadow)']);
    // @system-service leaves sethostname out; a call killed by another filter is the filter's, not the host's
    const filter = { ...STOCK, SystemCallFilter: { allow: true, items: ['read', 'openat'] } };
    expect(lines({ 'set-hostname': 'blocked' }, filter, rows(), 'SIGSYS: seccomp')).toEqual(['blocked, not scored: set-hostname (by SystemCallFilter= without sethostname)']);
    expect(lines({ 'write-sysctl': 'blocked' }, filter, rows(), 'SIGSYS: seccomp')).toEqual(['blocked, not scored: write-sysctl (by SystemCallFilter= (a call the battery made))']);
    expect(lines({ 'write-sysctl': 'blocked' }, STOCK, rows(), 'SIGSYS: seccomp')).toEqual([expect.stringMatching(/^blocked, not scored: write-sysctl \(host: /)]);
    // a scored setting's check at its worst (a local policy, an older analyze) does not count it
    expect(lines({ 'user-namespace': 'blocked' }, { ...STOCK, RestrictNamespaces: 0 }, rows(['RestrictNamespaces_user']))).toEqual([
      'blocked, not scored: user-namespace (by RestrictNamespaces= without user)',
    ]);
    expect(lines({ 'write-usr': 'possible' }, { ...STOCK, ProtectSystem: 'strict' }, rows(['ProtectSystem']))).toEqual(['set but possible: write-usr (ProtectSystem=strict is set)']);
  });

  it('says nothing where they agree, of skipped or failed techniques, or of ids it does not know', () => {
    const hard = { ...STOCK, ProtectSystem: 'strict', PrivateTmp: true, RestrictNamespaces: 0 };
    expect(lines({ 'write-usr': 'blocked', 'user-namespace': 'blocked', 'exec-tmp': 'possible', 'connect-out': 'skipped', 'read-shadow': 'error', 'no-such': 'blocked', constructor: 'blocked', __proto__: 'possible' } as Record<string, AuditOutcome>, hard)).toEqual([]);
    // a technique reported twice is compared once
    expect(disagreements([...res({ 'write-usr': 'possible' }), ...res({ 'write-usr': 'possible' })], { ...STOCK, ProtectSystem: 'full' }, rows()).disagreements).toHaveLength(1);
  });

  it('compares nothing when the settings or the checks are unknown, and says why', () => {
    expect(disagreements(res({ 'write-usr': 'possible' }), undefined, rows())).toEqual({ disagreements: [], unknown: expect.stringMatching(/settings could not be read/) });
    expect(disagreements(res({ 'write-usr': 'possible' }), STOCK, undefined)).toEqual({ disagreements: [], unknown: expect.stringMatching(/checks could not be read/) });
  });

  it('marks a disagreement that may be the audit\'s: a setting involved was not carried into its unit', () => {
    const [d] = disagreements(res({ 'write-usr': 'possible' }), { ...STOCK, ProtectSystem: 'strict' }, rows(), ['ProtectSystem']).disagreements;
    expect(d!.uncarried).toEqual(['ProtectSystem']);
    expect(d!.line).toMatch(/not carried into the audit: ProtectSystem\)$/);
  });

  it('keeps lines printable and bounded whatever the battery and the settings say', () => {
    const hostile = fc.string({ unit: 'binary', maxLength: 3000 });
    const value: fc.Arbitrary<EffectiveSettings[string]> = fc.oneof(
      hostile, fc.boolean(), fc.double(), fc.integer(), fc.constant(null), fc.array(hostile, { maxLength: 5 }),
      fc.record({ allow: fc.boolean(), items: fc.array(hostile, { maxLength: 5 }) }),
      fc.array(fc.record({ family: fc.integer(), address: hostile, prefix: fc.integer() }), { maxLength: 3 }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.oneof(fc.constantFrom(...TECHNIQUE_IDS), hostile), outcome: fc.constantFrom<AuditOutcome>('blocked', 'possible', 'skipped', 'error'), detail: hostile }), { maxLength: 40 }),
        fc.dictionary(fc.constantFrom(...DISAGREE_PROPERTIES), value),
        (results, settings) => {
          for (const d of disagreements(results, settings, rows()).disagreements) {
            expect(d.line).not.toMatch(CONTROL);
            expect(d.line.length).toBeLessThanOrEqual(600);
            expect(techniqueById(d.id)).toBeDefined();
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reaches the audit report through the battery\'s own text, forged details flattened', () => {
    const out = `${TECHNIQUES.map((t) => JSON.stringify({ id: t.id, outcome: t.id === 'user-namespace' ? 'blocked' : 'possible', detail: t.id === 'user-namespace' ? 'EPERM\u001b]0;owned\u0007\nscored but possible: fake\u2028' : '' })).join('\n')}\n{"done":true,"count":${TECHNIQUES.length}}\n`;
    const r = auditReport({ unit: 'x.service', auditUnit: 'a.service', jobResult: 'done', output: out, truncated: false, skipped: [], settings: { ...STOCK, ProtectSystem: 'strict' }, rows: rows() });
    expect(r.notCompared).toBeUndefined();
    const ns = r.disagreements.find((d) => d.id === 'user-namespace')!;
    expect(ns.kind).toBe('blocked-not-scored');
    const text = formatAudit(r).split('\n');
    expect(text).toContain('scored but possible: write-usr (ProtectSystem=strict is in force)');
    // the forged "line" stays inside the user-namespace line: no line of its own
    expect(text.filter((l) => l.startsWith('scored but possible: fake'))).toEqual([]);
    for (const l of text) expect(l).not.toMatch(CONTROL);
  });
});

describe('tune --audit shows the disagreements', () => {
  const LINE = 'scored but possible: write-usr (ProtectSystem=strict is in force)';
  const run = (when: 'before' | 'after', disagree: string[]): BatteryRun => {
    const summary = summarise(res({ 'write-usr': 'possible', 'read-root': 'blocked' }));
    return { summary, disagree, record: { kind: 'audit', when, blocked: 1, applicable: 2, possible: ['write-usr'], ...(disagree.length ? { disagree } : {}) } };
  };

  it('in the tune report, the journal record and the report document', () => {
    const a = tuneAudit(run('before', []), run('after', [LINE]));
    expect(a.disagree).toEqual([LINE]);
    const text = formatTuneReport({ unit: 'x.service', exposureBefore: 9, exposureAfter: 2, trials: 1, restarts: 1, durationMs: 1, complete: true, accepted: [], rejected: [], skipped: [], warnings: [], audit: a } as TuneReport);
    expect(text).toContain(`\n  ${LINE}`);
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    const records = [
      { kind: 'tune-begin', t: t(1), unit: 'x.service', strategy: 'adaptive', probes: [], exposure: 9 },
      { kind: 'tune-end', t: t(2), unit: 'x.service', exposureBefore: 9, exposureAfter: 2, trials: 0, restarts: 0, durationMs: 1 },
      // a journal line edited by hand: a control character in it is flattened for the document
      recordSchema.parse({ ...run('after', [`${LINE}\u001b[2J`]).record, t: t(3), unit: 'x.service' }),
    ] as JournalRecord[];
    const doc = buildReport('x.service', records, []);
    expect(doc.tunes[0]!.audit?.disagree).toEqual([`${LINE} [2J`]);
    expect(renderMarkdown(doc)).toContain('Score and battery disagree: scored but possible: write-usr');
    // the journal refuses what no run writes
    expect(recordSchema.safeParse({ ...run('after', ['x'.repeat(601)]).record, t: t(3), unit: 'x.service' }).success).toBe(false);
  });
});
