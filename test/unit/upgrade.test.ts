// After an upgrade: the platform a unit was verified on, read from its journal (which is a file on
// disk: hostile and garbled fields read as unknown, never as a change), and the decision.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanJournal, type JournalRecord } from '../../src/core/journal.js';
import { platformFingerprint } from '../../src/core/platform.js';
import { changes, readFingerprint, upgradeDecision, verificationText, verifiedOn, type Fingerprint } from '../../src/core/upgrade.js';
import { DEBIAN12_PLATFORM, DEBIAN13_PLATFORM } from '../fakes/platforms.js';

const F252 = platformFingerprint(DEBIAN12_PLATFORM);
const F257 = platformFingerprint(DEBIAN13_PLATFORM);

/** Journal lines as a file holds them, read through the journal's own schema. */
function journal(...lines: object[]): JournalRecord[] {
  const text = lines.map((l, i) => JSON.stringify({ t: `2026-12-0${1 + (i % 9)}T10:00:00.000Z`, unit: 'web.service', ...l })).join('\n');
  const r = scanJournal(new TextEncoder().encode(`${text}\n`));
  if (!r.ok || r.torn) throw new Error(`not a journal: ${JSON.stringify(r)}`);
  return r.records;
}
const begin = (platform?: unknown) => ({ kind: 'tune-begin', strategy: 'adaptive', probes: [], exposure: 9.6, ...(platform === undefined ? {} : { platform }) });
const reverified = (platform: unknown, outcome = 'ok') => ({ kind: 'reverify', outcome, platform, from: F252, changes: ['systemd 252 → 257'], options: [], reason: 'ok' });

describe('the platform a unit was verified on', () => {
  it('is the last tune-begin or reverify record; a later tune replaces an earlier verification', () => {
    expect(verifiedOn(journal())).toEqual({ kind: 'never' });
    expect(verifiedOn(journal(begin(F252)))).toMatchObject({ kind: 'known', by: 'tune', fingerprint: F252 });
    expect(verifiedOn(journal(begin(F252), reverified(F257)))).toMatchObject({ kind: 'known', by: 'reverify', fingerprint: F257 });
    // re-tuned by a CLI that recorded nothing after the re-verification: unknown, not the older fact
    expect(verifiedOn(journal(begin(F252), reverified(F257), begin()))).toMatchObject({ kind: 'unknown', by: 'tune' });
  });

  it('decides unchanged, changed (what changed, as phrases) and unknown', () => {
    expect(upgradeDecision(journal(begin(F252)), F252)).toEqual({ kind: 'unchanged' });
    const d = upgradeDecision(journal(begin(F252)), F257);
    expect(d.kind).toBe('changed');
    expect(d.kind === 'changed' && d.changes).toEqual(['systemd 252 → 257', 'kernel 6.1 → 6.12', 'systemd features +BPF_FRAMEWORK']);
    expect(d.kind === 'changed' && d.from).toEqual(F252);
    // after the re-verification, the same platform is unchanged: it is not repeated
    expect(upgradeDecision(journal(begin(F252), reverified(F257)), F257)).toEqual({ kind: 'unchanged' });
    // a failed re-verification is not repeated either (the admin was alerted)
    expect(upgradeDecision(journal(begin(F252), reverified(F257, 'unhealthy')), F257)).toEqual({ kind: 'unchanged' });
  });

  it('an old journal (no fingerprint) is unknown: no re-verify, and status says so', () => {
    const old = journal(begin());
    const d = upgradeDecision(old, F257);
    expect(d.kind).toBe('unknown');
    expect(d.kind === 'unknown' && d.reason).toMatch(/does not record the platform/);
    expect(upgradeDecision(journal(), F257).kind).toBe('unknown');
    expect(verificationText(old)).toEqual({
      verifiedOn: 'unknown (the journal predates platform records)',
      reverify: 'not re-verified after upgrades: the platform it was tuned on is unknown',
    });
  });

  it('a fact unknown on either side is no difference', () => {
    expect(changes({ systemd: 252 }, { systemd: 252, kernel: '6.12', features: ['BPF_FRAMEWORK'], lsm: ['bpf'] })).toEqual([]);
    expect(changes({ systemd: 252, kernel: '6.1' }, { systemd: 252 })).toEqual([]);
    expect(changes({ systemd: 252, lsm: ['capability'] }, { systemd: 252, lsm: ['capability', 'bpf'] })).toEqual(['LSMs +bpf']);
    expect(changes({ systemd: 257, kernel: '6.12' }, { systemd: 252, kernel: '6.1' })).toEqual(['systemd 257 → 252', 'kernel 6.12 → 6.1']);
  });

  it('status: the platform verified on, pending, and re-verified at', () => {
    const rs = journal(begin(F252));
    expect(verificationText(rs)).toEqual({ verifiedOn: 'systemd 252, kernel 6.1 (tuned at 2026-12-01T10:00:00.000Z)' });
    expect(verificationText(rs, ['systemd 252 → 257'])).toMatchObject({ reverify: 're-verify pending: systemd 252 → 257' });
    const done = journal(begin(F252), { ...reverified(F257, 'rolled-back'), options: ['ProtectKernelTunables'] });
    expect(verificationText(done)).toEqual({
      verifiedOn: 'systemd 257, kernel 6.12 (re-verified at 2026-12-02T10:00:00.000Z)',
      reverify: 're-verified at 2026-12-02T10:00:00.000Z after systemd 252 → 257: rolled-back (rolled back ProtectKernelTunables)',
    });
  });
});

describe('hostile and garbled journal fields', () => {
  it('a garbled platform reads as unknown, never as a change and never as a corrupt journal', () => {
    for (const bad of [
      null, 'systemd 252', 252, [], { systemd: '252' }, { systemd: 252.5 }, { systemd: -1 }, { systemd: 0 }, { systemd: 1e9 },
      { systemd: Number.MAX_SAFE_INTEGER }, { kernel: '6.1' }, { systemd: [252] },
    ]) {
      const rs = journal(begin(bad));
      expect(verifiedOn(rs).kind, JSON.stringify(bad)).toBe('unknown');
      expect(upgradeDecision(rs, F257).kind).toBe('unknown');
      const r = journal(begin(F252), reverified(bad));
      expect(upgradeDecision(r, F257).kind, JSON.stringify(bad)).toBe('unknown');
    }
  });

  it('a garbled optional field is dropped (unknown), the rest is kept', () => {
    const hostile = { systemd: 252, kernel: '6.1\u001b[2J', features: ['BPF_FRAMEWORK', 'x y'], lsm: 'bpf' };
    expect(readFingerprint(hostile)).toEqual({ systemd: 252 });
    expect(readFingerprint({ systemd: 252, kernel: '6.1', features: Array(300).fill('SECCOMP') })).toEqual({ systemd: 252, kernel: '6.1' });
    expect(readFingerprint({ systemd: 252, kernel: '6.1', extra: 'ignored', ['__proto__']: { systemd: 1 } })).toEqual({ systemd: 252, kernel: '6.1' });
    // through the journal: the record stays valid, its platform reads without the bad fields
    const rs = journal(begin(hostile));
    expect(verifiedOn(rs)).toMatchObject({ kind: 'known', fingerprint: { systemd: 252 } });
    // the kernel it cannot read is no difference from 6.12
    expect(upgradeDecision(rs, { systemd: 252, kernel: '6.12' })).toEqual({ kind: 'unchanged' });
  });

  it('what status repeats of a reverify record is bounded', () => {
    const long = 'x'.repeat(10_000);
    const rs = journal(begin(F252), { ...reverified(F257), changes: Array(50).fill(long), options: Array(50).fill(long) });
    const t = verificationText(rs).reverify!;
    expect(t.length).toBeLessThan(2000);
  });

  it('readFingerprint never throws and only returns plain fields', () => {
    fc.assert(fc.property(fc.anything(), (v) => {
      const f = readFingerprint(v);
      if (f === undefined) return;
      expect(Number.isInteger(f.systemd) && f.systemd > 0).toBe(true);
      const plain: Fingerprint = f;
      expect(JSON.stringify(plain)).not.toMatch(/[\u0000-\u001f]/);
    }));
    fc.assert(fc.property(fc.record({ systemd: fc.integer({ min: 1, max: 99_999 }), kernel: fc.string(), features: fc.array(fc.string()), lsm: fc.array(fc.string()) }, { requiredKeys: ['systemd'] }), (v) => {
      const f = readFingerprint(v)!;
      expect(f.systemd).toBe(v.systemd);
      for (const c of changes(f, F257)) expect(c).not.toMatch(/[\u0000-\u001f]/);
    }));
  });
});
