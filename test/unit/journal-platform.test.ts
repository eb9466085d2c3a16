// The platform a tune ran on, in its tune-begin record (core/platform.ts platformFingerprint):
// written by every new tune, read back as written, absent in old journals, and a garbled field
// reads as unknown instead of making the journal corrupt.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JournalStore } from '../../src/adapters/journalStore.js';
import { formatRecord } from '../../src/cli/format.js';
import { optionByName } from '../../src/core/catalog.js';
import { lastTuneBegin, recordSchema, scanJournal, type JournalRecord } from '../../src/core/journal.js';
import { platformFingerprint, platformFrom, versionOnly } from '../../src/core/platform.js';
import { tune } from '../../src/engine/tune.js';
import { fakePorts } from '../fakes/ports.js';
import { DEBIAN12_PLATFORM, DEBIAN13_PLATFORM, FEATURES_262 } from '../fakes/platforms.js';

const line = (o: object) => `${JSON.stringify({ t: '2026-12-02T10:00:00.000Z', unit: 'x.service', kind: 'tune-begin', strategy: 'adaptive', probes: [], exposure: 9.6, ...o })}\n`;
const scan = (text: string) => scanJournal(new TextEncoder().encode(text));
const only = (text: string): JournalRecord => {
  const s = scan(text);
  if (!s.ok || s.torn || s.records.length !== 1) throw new Error(`did not load: ${JSON.stringify(s)}`);
  return s.records[0]!;
};

describe('platformFingerprint', () => {
  it('keeps the version, kernel major.minor, the features that matter and the LSMs', () => {
    expect(platformFingerprint(DEBIAN12_PLATFORM)).toEqual({ systemd: 252, kernel: '6.1', features: ['APPARMOR', 'SECCOMP', 'SELINUX'] });
    expect(platformFingerprint(DEBIAN13_PLATFORM)).toEqual({
      systemd: 257, kernel: '6.12', features: ['APPARMOR', 'BPF_FRAMEWORK', 'SECCOMP', 'SELINUX'], lsm: ['lockdown', 'capability', 'landlock', 'bpf'],
    });
    expect(platformFingerprint(platformFrom({ systemdVersion: 262, features: FEATURES_262 })).features).toContain('BPF_FRAMEWORK');
  });

  it('leaves out what is unknown; a known build without any of them says so (empty list)', () => {
    expect(platformFingerprint(versionOnly(252))).toEqual({ systemd: 252 });
    expect(platformFingerprint(platformFrom({ systemdVersion: 252, features: '+PAM -SECCOMP' }))).toEqual({ systemd: 252, features: [] });
  });
});

describe('tune-begin carries the platform', () => {
  it('round trip through the journal store', () => {
    const store = new JournalStore(mkdtempSync(join(tmpdir(), 'ah-plat-')), 'x.service');
    const platform = platformFingerprint(DEBIAN13_PLATFORM);
    store.append({ kind: 'tune-begin', strategy: 'adaptive', probes: [], exposure: 9.6, platform });
    const back = store.read();
    expect(back).toHaveLength(1);
    expect(lastTuneBegin(back)?.platform).toEqual(platform);
  });

  it('a journal written before the field loads, without it', () => {
    const r = only(line({}));
    expect(r.kind === 'tune-begin' && r.platform).toBeFalsy();
    expect(formatRecord(r)).toMatch(/probes: none$/);
  });

  it('a garbled platform (or one field of it) reads as unknown; the record still loads', () => {
    for (const platform of ['257', null, [], { systemd: '257' }, { systemd: 0 }, { kernel: '6.1' }, { systemd: 1e9 }]) {
      const r = only(line({ platform }));
      expect([platform, r.kind === 'tune-begin' ? r.platform : 'x']).toEqual([platform, undefined]);
    }
    const r = only(line({ platform: { systemd: 257, kernel: '6.1; reboot', features: ['BPF_FRAMEWORK', '\u001b[2J'], lsm: ['bpf'], extra: 'x'.repeat(10) } }));
    expect(r.kind === 'tune-begin' && r.platform).toEqual({ systemd: 257, lsm: ['bpf'] });
    expect(formatRecord(r)).not.toMatch(/\u001b|reboot|extra/);
    // the rest of the record is still checked as strictly as before
    expect(recordSchema.safeParse(JSON.parse(line({ exposure: 'high', platform: { systemd: 257 } }))).success).toBe(false);
  });

  it('the journal text says what the tune ran on', () => {
    const r = only(line({ platform: platformFingerprint(DEBIAN13_PLATFORM) }));
    expect(formatRecord(r)).toMatch(/probes: none; on systemd 257, kernel 6\.12, \+APPARMOR \+BPF_FRAMEWORK \+SECCOMP \+SELINUX, LSM lockdown,capability,landlock,bpf$/);
  });

  it('a tune journals the platform its port reports; a resumed one writes no second begin', async () => {
    const ports = fakePorts('sim.service', { platform: async () => DEBIAN13_PLATFORM });
    const o = { unit: 'sim.service', probes: [], settleMs: 100, strategy: 'one-at-a-time' as const, persist: false, declarations: { allowNet: [], localOnly: false, confineSessions: false } };
    await tune(ports, o, [optionByName('PrivateTmp')!]);
    const begins = ports.journal.read().filter((r) => r.kind === 'tune-begin');
    expect(begins.map((b) => b.kind === 'tune-begin' && b.platform)).toEqual([platformFingerprint(DEBIAN13_PLATFORM)]);
    await tune(ports, { ...o, resume: true }, [optionByName('PrivateTmp')!]);
    expect(ports.journal.read().filter((r) => r.kind === 'tune-begin')).toHaveLength(1);
  });
});
