// What the running system offers, from what systemd and the kernel report (strings of Debian's
// 252, 257 and 262 builds), and what the catalog makes of it: skip reasons written from the facts,
// values offered only where systemd has them, and MemoryDenyWriteExecute's cost by kernel.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { readLsm, readPlatform } from '../../src/adapters/platform.js';
import { buildCandidates } from '../../src/core/candidates.js';
import { CATALOG, costOn, optionByName, unusableReason, usableOptions } from '../../src/core/catalog.js';
import { unmetNeed } from '../../src/core/needs.js';
import {
  parseFeatures, parseKernelRelease, parseLsmList, parseSystemdVersion, platformFrom, versionOnly, type Platform,
} from '../../src/core/platform.js';
import type { CatalogRung, OptionSpec } from '../../src/core/types.js';
import type { SystemdPort } from '../../src/engine/ports.js';
import { tune } from '../../src/engine/tune.js';
import { fakePorts } from '../fakes/ports.js';
import {
  DEBIAN12_PLATFORM, DEBIAN13_PLATFORM, FEATURES_252, FEATURES_257, FEATURES_262, VERSION_252, VERSION_257, VERSION_262,
} from '../fakes/platforms.js';
import { mkfifo, unblocker, type Unblocker } from './fifo.js';

const spec = (name: string): OptionSpec => optionByName(name)!;
const BPF = ['RestrictFileSystems', 'SocketBindDeny', 'RestrictNetworkInterfaces'];

describe('platform parsers', () => {
  it('reads the version of Debian 12, 13 and unstable', () => {
    expect(parseSystemdVersion(VERSION_252)).toBe(252);
    expect(parseSystemdVersion(VERSION_257)).toBe(257);
    expect(parseSystemdVersion(VERSION_262)).toBe(262);
    expect(parseSystemdVersion('v255')).toBe(255);
    for (const bad of ['', 'systemd', '-1', '0', '1234567', null, 42, {}, '\u0000252']) expect(parseSystemdVersion(bad)).toBeUndefined();
  });

  it('reads the build features by token, not position', () => {
    const f252 = parseFeatures(FEATURES_252)!;
    expect(f252.has('SECCOMP')).toBe(true);
    expect(f252.has('BPF_FRAMEWORK')).toBe(false);
    expect(f252.has('GNUTLS')).toBe(false);
    expect([...f252].some((t) => t.includes('='))).toBe(false); // default-hierarchy=unified is no feature
    expect(parseFeatures(FEATURES_257)!.has('BPF_FRAMEWORK')).toBe(true);
    expect(parseFeatures(FEATURES_262)!.has('BPF_FRAMEWORK')).toBe(true);
    expect(parseFeatures(FEATURES_262)!.has('GCRYPT')).toBe(false); // 262 drops the token
    // unknown is not "built without": nothing readable → undefined
    for (const bad of ['', 'garbage', '+', 'bpf_framework', '++BPF', undefined, 7]) expect(parseFeatures(bad)).toBeUndefined();
    expect(parseFeatures('+BPF_FRAMEWORK\u0000 -X')?.has('BPF_FRAMEWORK')).toBe(false); // mangled token dropped
  });

  it('reads the LSM list and refuses anything else', () => {
    expect(parseLsmList('lockdown,capability,landlock,bpf\n')).toEqual(['lockdown', 'capability', 'landlock', 'bpf']);
    expect(parseLsmList('lockdown,capability')).toEqual(['lockdown', 'capability']);
    for (const bad of ['', 'bpf,,x', 'bpf; rm -rf /', 'a'.repeat(5000), 'BPF', undefined]) expect(parseLsmList(bad)).toBeUndefined();
  });

  it('reads major.minor of the kernel release', () => {
    expect(parseKernelRelease('6.1.0-28-amd64')).toEqual([6, 1]);
    expect(parseKernelRelease('6.12.48+deb13-amd64')).toEqual([6, 12]);
    expect(parseKernelRelease('6.18.44')).toEqual([6, 18]);
    for (const bad of ['', 'six', '6', '6.', 'x6.1', '12345.1', undefined]) expect(parseKernelRelease(bad)).toBeUndefined();
  });

  it('never throws on hostile input', () => {
    fc.assert(fc.property(fc.anything(), (x) => {
      const p = platformFrom({ systemdVersion: 252, features: x, lsm: x, kernelRelease: x });
      parseSystemdVersion(x);
      for (const s of CATALOG) unusableReason(s, p);
    }));
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (x) => {
      const f = parseFeatures(x);
      if (f) for (const n of f) expect(n).toMatch(/^[A-Z0-9_]+$/);
    }));
  });
});

describe('needs and their reasons', () => {
  const lsmOnly = (lsm: string | undefined): Platform => platformFrom({ systemdVersion: 257, features: FEATURES_257, lsm, kernelRelease: '6.12.0' });

  it('says what this system lacks, from its facts', () => {
    expect(unmetNeed({ features: ['BPF_FRAMEWORK'] }, DEBIAN12_PLATFORM)).toBe('systemd 252 here is built without the BPF framework (-BPF_FRAMEWORK)');
    expect(unmetNeed({ lsm: 'bpf' }, lsmOnly('lockdown,capability'))).toBe("the kernel's active LSMs (lockdown,capability) lack bpf");
    expect(unmetNeed({ lsm: 'bpf' }, lsmOnly(undefined))).toMatch(/^the LSM list is not visible \(no securityfs\)/);
    expect(unmetNeed({ lsm: 'bpf' }, lsmOnly('lockdown,capability,bpf'))).toBeUndefined();
    expect(unmetNeed({ kernel: [6, 3] }, DEBIAN12_PLATFORM)).toBe('needs kernel 6.3+ (this is 6.1)');
    expect(unmetNeed({ kernel: [6, 3] }, versionOnly(257))).toMatch(/kernel version is unknown/);
    expect(unmetNeed({ systemd: 257 }, DEBIAN12_PLATFORM)).toBe('needs systemd 257+ (this is 252)');
    expect(unmetNeed({ features: ['BPF_FRAMEWORK'] }, versionOnly(257))).toMatch(/did not report its build features/);
  });

  it('checks a property against the Service interface when it was read', () => {
    const with257 = { ...DEBIAN13_PLATFORM, serviceProperties: new Set(['PrivateUsers', 'PrivateUsersEx']) };
    expect(unmetNeed({ property: 'PrivateUsersEx' }, with257)).toBeUndefined();
    expect(unmetNeed({ property: 'ProtectHostnameEx' }, with257)).toBe('systemd 257 has no Service property ProtectHostnameEx');
    expect(unmetNeed({ property: 'PrivateUsersEx' }, DEBIAN13_PLATFORM)).toMatch(/cannot tell/);
  });

  it('offers a rung only where its need is met', () => {
    const base = spec('ProtectSystem');
    const ladder = base.ladder.map((r, i): CatalogRung => (i === 0 ? { ...r, needs: { property: 'Imaginary' } } : r));
    const o: OptionSpec = { ...base, ladder };
    const p = { ...DEBIAN12_PLATFORM, serviceProperties: new Set(['Imaginary']) };
    expect(usableOptions([o], p)[0]!.ladder).toHaveLength(ladder.length);
    expect(usableOptions([o], DEBIAN12_PLATFORM)[0]!.ladder.map((r) => r.value)).toEqual(ladder.slice(1).map((r) => r.value));
  });
});

describe('the catalog on each platform', () => {
  const facts = { usesInet: false, inetEndpoints: [], nonLoopbackListeners: [], families: [], peers: [], sessionEvidence: [], createdModes: [], writableDirs: [] };
  const skips = (platform: Platform) => {
    const { skipped } = buildCandidates({
      catalog: CATALOG, platform, eff: {}, accepted: [], rolledBack: new Set(), rejected: new Set(), facts,
      declarations: { allowNet: [], localOnly: false, confineSessions: false },
    });
    return new Map(skipped.map((s) => [s.option, s.reason]));
  };

  it('still skips the BPF settings on systemd 252 without BPF, saying why from its features', () => {
    const s = skips(DEBIAN12_PLATFORM);
    for (const n of BPF) expect(s.get(n), n).toBe('systemd 252 here is built without the BPF framework (-BPF_FRAMEWORK)');
    expect(s.get('User')).toMatch(/needs a person/); // explain-only entries without needs keep their text
  });

  it('on 257 with BPF: RestrictFileSystems follows the LSM list; none is tried before a check shows it enforced', () => {
    const noLsm = skips({ ...DEBIAN13_PLATFORM, lsm: undefined });
    expect(noLsm.get('RestrictFileSystems')).toMatch(/LSM list is not visible/);
    expect(skips({ ...DEBIAN13_PLATFORM, lsm: ['lockdown', 'capability'] }).get('RestrictFileSystems')).toBe("the kernel's active LSMs (lockdown,capability) lack bpf");
    const s = skips(DEBIAN13_PLATFORM);
    for (const n of BPF) expect(s.get(n), n).toMatch(/was not checked/);
    expect(s.get('RestrictFileSystems')).not.toMatch(/Debian/);
  });

  it('prices MemoryDenyWriteExecute by how systemd enforces it here', () => {
    const mdwe = spec('MemoryDenyWriteExecute');
    expect(mdwe.cost).toBe('seccomp-args');
    expect(costOn(mdwe, DEBIAN12_PLATFORM)).toBe('seccomp-args'); // 252 has only seccomp
    const k = (release: string, v = 257) => costOn(mdwe, platformFrom({ systemdVersion: v, kernelRelease: release }));
    expect(k('6.12.48+deb13-amd64')).toBe('free');
    expect(k('6.3.0')).toBe('free');
    expect(k('6.2.16')).toBe('seccomp-args'); // falls back to seccomp
    expect(k('6.12.0', 253)).toBe('seccomp-args');
    expect(k('garbled')).toBe('seccomp-args'); // unknown kernel: the dearer class
    const usable = (p: Platform) => usableOptions(CATALOG, p).find((o) => o.name === 'MemoryDenyWriteExecute')!.cost;
    expect(usable(DEBIAN13_PLATFORM)).toBe('free');
    expect(usable(DEBIAN12_PLATFORM)).toBe('seccomp-args');
    expect(spec('MemoryDenyWriteExecute').cost).toBe('seccomp-args'); // the catalog itself is not changed
  });
});

describe('the tune asks the platform', () => {
  it('journals the skip reasons of the platform it runs on', async () => {
    const run = async (platform: Platform) => {
      const ports = fakePorts('x.service', { platform: async (unit) => (expect(unit).toBe('x.service'), platform) });
      const o = { unit: 'x.service', probes: [], settleMs: 20, strategy: 'one-at-a-time' as const, persist: false, declarations: { allowNet: [], localOnly: false, confineSessions: false } };
      const report = await tune(ports, o, [spec('RestrictFileSystems'), spec('SocketBindDeny')]);
      const journaled = ports.journal.read().flatMap((r) => (r.kind === 'skipped' ? [`${r.option}: ${r.reason}`] : []));
      expect(report.skipped.map((r) => `${r.option}: ${r.reason}`)).toEqual(journaled);
      return journaled;
    };
    expect(await run(DEBIAN12_PLATFORM)).toEqual([
      'RestrictFileSystems: systemd 252 here is built without the BPF framework (-BPF_FRAMEWORK)',
      'SocketBindDeny: systemd 252 here is built without the BPF framework (-BPF_FRAMEWORK)',
    ]);
    const trixie = await run({ ...DEBIAN13_PLATFORM, lsm: ['lockdown', 'capability'] });
    expect(trixie[0]).toBe("RestrictFileSystems: the kernel's active LSMs (lockdown,capability) lack bpf");
    expect(trixie[1]).toMatch(/^SocketBindDeny: whether systemd 257 enforces SocketBindDeny here was not checked/);
  });
});

describe('reading the platform', () => {
  let u: Unblocker | undefined;
  afterEach(() => u?.proc.kill());
  const dir = () => mkdtempSync(join(tmpdir(), 'ah-platform-'));

  it('reads the LSM list bounded, and nothing that is not a small regular file', () => {
    const d = dir();
    writeFileSync(join(d, 'lsm'), 'lockdown,capability,bpf');
    expect(readLsm(join(d, 'lsm'))).toBe('lockdown,capability,bpf');
    expect(readLsm(join(d, 'absent'))).toBeUndefined();
    mkdirSync(join(d, 'dir'));
    expect(readLsm(join(d, 'dir'))).toBeUndefined();
    mkfifo(join(d, 'fifo'));
    u = unblocker(join(d, 'fifo'));
    expect(readLsm(join(d, 'fifo'))).toBeUndefined();
    expect(u.released()).toBe(false);
    writeFileSync(join(d, 'big'), `bpf,${'x'.repeat(100_000)}`);
    expect(readLsm(join(d, 'big'))!.length).toBe(4097); // bounded; the parser then refuses it
  });

  it('builds the platform from systemd, leaving unknown what systemd cannot say', async () => {
    const d = dir();
    writeFileSync(join(d, 'lsm'), 'lockdown,capability,landlock,bpf\n');
    const sd = (over: Partial<SystemdPort>) => ({ version: async () => 257, ...over }) as SystemdPort;
    const full = await readPlatform(sd({
      features: async () => FEATURES_257,
      servicePropertyNames: async (unit) => (unit === 'a.service' ? ['PrivateUsers', 'PrivateUsersEx'] : []),
    }), 'a.service', join(d, 'lsm'));
    expect(full.systemdVersion).toBe(257);
    expect(full.features?.has('BPF_FRAMEWORK')).toBe(true);
    expect(full.lsm).toContain('bpf');
    expect(full.kernel).toHaveLength(2);
    expect(full.serviceProperties?.has('PrivateUsersEx')).toBe(true);

    const bare = await readPlatform(sd({
      features: async () => { throw new Error('bus gone'); },
      servicePropertyNames: async () => [],
    }), 'a.service', join(d, 'absent'));
    expect(bare.features).toBeUndefined();
    expect(bare.lsm).toBeUndefined();
    expect(bare.serviceProperties).toBeUndefined();
    await expect(readPlatform(sd({ version: async () => { throw new Error('no systemd'); } }), 'a.service')).rejects.toThrow('no systemd');
  });
});
