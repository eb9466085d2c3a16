// The BPF options (core/bpfOptions.ts): what observation admits (hostile input included), the lines
// they write, whether the read-back shows them, the skip reasons by platform, and the enforcement
// check that must pass before any is tried.
import { describe, expect, it } from 'vitest';
import { checkEnforcement, forgetEnforcement } from '../../src/adapters/bpfCheck.js';
import { convertValue } from '../../src/adapters/systemd/values.js';
import {
  BASIC_API, admitFileSystems, admitInterfaces, admitSocketBind, allowRules, bindRuleText, fileSystemsInForce, fsTypeName,
  renderFileSystems, renderSocketBind, socketBindInForce,
} from '../../src/core/bpfOptions.js';
import { buildCandidates } from '../../src/core/candidates.js';
import { CATALOG, optionByName } from '../../src/core/catalog.js';
import { lineProblem } from '../../src/core/directives.js';
import { ENFORCEMENT_CHECKS, enforcementFrom, renderEnforcementUnit } from '../../src/core/enforcementCheck.js';
import { buildObservation, listenerFacts, observedFacts, parseMapsDevices, parseMountinfo } from '../../src/core/observe.js';
import type { Platform } from '../../src/core/platform.js';
import { inForce } from '../../src/core/setting.js';
import type { Declarations, Decision, Listener, Rung, SafetyFacts, UnitSnapshot } from '../../src/core/types.js';
import type { SystemdPort } from '../../src/engine/ports.js';
import { DEBIAN12_PLATFORM, DEBIAN13_PLATFORM } from '../fakes/platforms.js';

const FACTS: SafetyFacts = {
  usesInet: true, inetEndpoints: [], nonLoopbackListeners: ['0.0.0.0:81'], families: ['AF_INET'], peers: [],
  sessionEvidence: [], createdModes: [],
};
const NONE: Declarations = { allowNet: [], localOnly: false, confineSessions: false };
const rungsOf = (d: Decision): Rung[] => {
  if ('skip' in d) throw new Error(`skipped: ${d.skip}`);
  return d.rungs;
};
const skipOf = (d: Decision): string => ('skip' in d ? d.skip : `admitted ${d.rungs.map((r) => r.value).join(' | ')}`);
const sb = (over: Partial<SafetyFacts>) => admitSocketBind([], { ...FACTS, ...over });
const l = (family: Listener['family'], proto: Listener['proto'], port: number): Listener => ({ family, proto, port });

const ENFORCED = new Map([
  ['SocketBindDeny', { enforced: true, checked: 'x' }],
  ['RestrictFileSystems', { enforced: true, checked: 'x' }],
  ['RestrictNetworkInterfaces', { enforced: true, checked: 'x' }],
]);
const TRIXIE: Platform = { ...DEBIAN13_PLATFORM, enforcement: ENFORCED };

describe('SocketBindDeny', () => {
  it('allows exactly the observed ports, each family and transport on its own', () => {
    const [r] = rungsOf(sb({ listeners: [l('ipv4', 'tcp', 81), l('ipv6', 'tcp', 81), l('ipv4', 'udp', 53)] }));
    expect(r!.lines).toEqual(['SocketBindDeny=any', 'SocketBindAllow=ipv4:tcp:81', 'SocketBindAllow=ipv4:udp:53', 'SocketBindAllow=ipv6:tcp:81']);
    expect(r!.items).toEqual(['ipv4:tcp:81', 'ipv4:udp:53', 'ipv6:tcp:81']);
    expect(r!.rung).toBe('any');
    for (const line of r!.lines) expect(lineProblem(line), line).toBeUndefined();
  });

  it('denies every bind() of a unit that listens on nothing', () => {
    const [r] = rungsOf(sb({ listeners: [] }));
    expect(r!.lines).toEqual(['SocketBindDeny=any']);
    expect(r!.value).toBe('any');
  });

  it('skips when the sockets were not read, and on more ports than systemd takes', () => {
    expect(skipOf(sb({}))).toMatch(/did not read the unit's sockets/);
    const many = Array.from({ length: 5000 }, (_, i) => l('ipv4', 'tcp', 1000 + i));
    expect(skipOf(sb({ listeners: many }))).toBe('listens on 5000 ports; systemd takes at most 128 SocketBindAllow= rules');
  });

  it('drops hostile or impossible listeners: port 0, out of range, bogus fields; keeps duplicates once', () => {
    const bad = [
      l('ipv4', 'tcp', 0), l('ipv4', 'tcp', 65536), l('ipv4', 'tcp', -1), l('ipv4', 'tcp', 1.5), l('ipv4', 'tcp', NaN),
      { family: 'ipv4\nSocketBindAllow=any', proto: 'tcp', port: 80 }, { family: 'ipv4', proto: 'sctp', port: 80 }, null,
    ] as unknown as Listener[];
    expect(allowRules([...bad, l('ipv6', 'udp', 443), l('ipv6', 'udp', 443)])).toEqual(['ipv6:udp:443']);
    const [r] = rungsOf(sb({ listeners: [...bad, l('ipv4', 'tcp', 81), l('ipv4', 'tcp', 81)] }));
    expect(r!.lines).toEqual(['SocketBindDeny=any', 'SocketBindAllow=ipv4:tcp:81']);
  });

  it('reads the a(iiqq) read-back as bind rules and judges the setting by it', () => {
    const conv = (v: unknown) => convertValue('SocketBindAllow', 'a(iiqq)', v, { capLastCap: 40 });
    expect(conv([[2, 6, 1, 81], [10, 17, 1, 53], [0, 0, 0, 0], [0, 6, 0, 0], [10, 0, 10, 1000], [99, 42, 1, 5]]))
      .toEqual(['ipv4:tcp:81', 'ipv6:udp:53', 'any', 'tcp', 'ipv6:1000-1009', 'family-99:proto-42:5']);
    expect(conv('garbage')).toEqual([]);
    expect(bindRuleText(2, 6, 1, 81)).toBe('ipv4:tcp:81');
    const items = ['ipv4:tcp:81'];
    expect(socketBindInForce(items, { SocketBindDeny: ['any'], SocketBindAllow: ['ipv4:tcp:81'] })).toBe(true);
    expect(socketBindInForce(items, { SocketBindDeny: ['any'], SocketBindAllow: ['ipv4:tcp:81', 'ipv4:tcp:8080'] })).toBe(true); // a vendor's extra
    expect(socketBindInForce(items, { SocketBindDeny: ['any'], SocketBindAllow: [] })).toBe(false);
    expect(socketBindInForce(items, { SocketBindDeny: ['tcp'], SocketBindAllow: ['ipv4:tcp:81'] })).toBe(false);
    expect(socketBindInForce(items, { SocketBindDeny: '0 0 0 0' as never })).toBe(false); // an unconverted shape is not "any"
    expect(inForce({ option: 'SocketBindDeny', value: 'any, allow ipv4:tcp:81', rung: 'any', items, lines: [] },
      { SocketBindDeny: ['any'], SocketBindAllow: ['ipv4:tcp:81'] })).toBe(true);
  });

  it('leaves a vendor deny list alone: our allows would become exceptions to it', () => {
    const [r] = rungsOf(sb({ listeners: [l('ipv4', 'tcp', 81)] }));
    expect(renderSocketBind(r!, { SocketBindDeny: ['ipv4:tcp:22'] })).toBeNull();
    expect(renderSocketBind(r!, { SocketBindAllow: ['ipv4:tcp:22'] })).toEqual(r!.lines);
  });
});

describe('RestrictFileSystems', () => {
  const fs = (fileSystems: string[] | undefined) => admitFileSystems([], { ...FACTS, ...(fileSystems ? { fileSystems } : {}) });

  it('tries the observed types, then with @basic-api', () => {
    const rungs = rungsOf(fs(['overlay', 'tmpfs', 'proc', 'overlay']));
    expect(rungs.map((r) => r.lines)).toEqual([
      ['RestrictFileSystems=overlay proc tmpfs'],
      [`RestrictFileSystems=${[...new Set(['overlay', 'proc', 'tmpfs', ...BASIC_API])].sort().join(' ')}`],
    ]);
    expect(rungs.every((r) => r.rung === 'observed')).toBe(true);
    for (const r of rungs) for (const line of r.lines) expect(lineProblem(line), line).toBeUndefined();
    expect(rungsOf(fs(['ext4', ...BASIC_API]))).toHaveLength(1); // the second list would be the same
  });

  it('takes only names systemd knows the form of: FUSE subtypes as fuse, junk dropped, a bound on the count', () => {
    expect(fsTypeName('fuse.sshfs')).toBe('fuse');
    for (const bad of ['', 'EXT4', 'ext4 proc', 'a;b', 'x'.repeat(40), '../etc', 'proc\nRestrictFileSystems=', '.x']) expect(fsTypeName(bad), bad).toBeUndefined();
    const [r] = rungsOf(fs(['fuse.sshfs', 'ext4 proc', 'ext4', 'EXT4', 'x%y']));
    expect(r!.items).toEqual(['ext4', 'fuse']);
    expect(skipOf(fs(['BOGUS', 'a b']))).toMatch(/no file system type systemd could name/);
    expect(skipOf(fs(Array.from({ length: 500 }, (_, i) => `fs${i}`)))).toMatch(/uses 500 file system types/);
    expect(skipOf(fs(undefined))).toMatch(/mount table was not read/);
    expect(skipOf(fs([]))).toMatch(/mount table was not read/);
  });

  it('is in force when the allow list in force is within ours; writes nothing over a vendor list', () => {
    const items = ['ext4', 'proc'];
    expect(fileSystemsInForce(items, { RestrictFileSystems: { allow: true, items: ['ext4'] } })).toBe(true);
    expect(fileSystemsInForce(items, { RestrictFileSystems: { allow: true, items: ['ext4', 'nfs'] } })).toBe(false);
    expect(fileSystemsInForce(items, { RestrictFileSystems: { allow: false, items: ['nfs'] } })).toBe(false);
    expect(fileSystemsInForce(items, { RestrictFileSystems: { allow: true, items: [] } })).toBe(false);
    const [r] = rungsOf(fs(items));
    expect(renderFileSystems(r!, { RestrictFileSystems: { allow: false, items: ['nfs'] } })).toBeNull();
    expect(renderFileSystems(r!, {})).toEqual(r!.lines);
  });
});

describe('RestrictNetworkInterfaces', () => {
  const rni = optionByName('RestrictNetworkInterfaces')!;
  it('only with --local-only, and not for a unit that talks beyond loopback', () => {
    expect(skipOf(admitInterfaces(rni.ladder, FACTS, NONE))).toBe('listens on 0.0.0.0:81; RestrictNetworkInterfaces=lo needs --local-only (only this host reaches the service)');
    expect(skipOf(admitInterfaces(rni.ladder, { ...FACTS, nonLoopbackListeners: [] }, NONE))).toMatch(/^a loopback probe cannot see who else must reach it/);
    expect(skipOf(admitInterfaces(rni.ladder, FACTS, { ...NONE, allowNet: ['10.0.0.0/8'] }))).toMatch(/needs --local-only/);
    expect(skipOf(admitInterfaces(rni.ladder, { ...FACTS, peers: ['10.0.0.9'] }, { ...NONE, localOnly: true }))).toMatch(/talks to 10.0.0.9/);
    expect(rungsOf(admitInterfaces(rni.ladder, FACTS, { ...NONE, localOnly: true })).map((r) => r.lines)).toEqual([['RestrictNetworkInterfaces=lo']]);
  });
});

describe('on each platform', () => {
  const skips = (platform: Platform, facts: SafetyFacts = { ...FACTS, listeners: [l('ipv4', 'tcp', 81)], fileSystems: ['ext4'] }) => {
    const { skipped, candidates } = buildCandidates({
      catalog: CATALOG, platform, eff: {}, accepted: [], rolledBack: new Set(), rejected: new Set(), facts, declarations: NONE,
    });
    return { skip: new Map(skipped.map((s) => [s.option, s.reason])), tried: candidates.map((c) => c.spec.name) };
  };

  it('252 (-BPF_FRAMEWORK): skipped for the build, before any check', () => {
    const { skip } = skips({ ...DEBIAN12_PLATFORM, enforcement: ENFORCED });
    for (const n of ['SocketBindDeny', 'RestrictFileSystems', 'RestrictNetworkInterfaces']) {
      expect(skip.get(n), n).toBe('systemd 252 here is built without the BPF framework (-BPF_FRAMEWORK)');
    }
  });

  it('257 without the BPF LSM: RestrictFileSystems skipped for the LSM list; the cgroup ones tried where admitted', () => {
    const { skip, tried } = skips({ ...TRIXIE, lsm: ['lockdown', 'capability', 'landlock'] });
    expect(skip.get('RestrictFileSystems')).toBe("the kernel's active LSMs (lockdown,capability,landlock) lack bpf");
    expect(tried).toContain('SocketBindDeny');
    expect(skip.get('RestrictNetworkInterfaces')).toMatch(/^restricts-reach: .*needs --local-only/);
  });

  it('257 where the check found them not enforced: skipped with what it saw', () => {
    const notEnforced = new Map([...ENFORCED].map(([k]) => [k, { enforced: false, checked: `probe under ${k}` }]));
    const { skip, tried } = skips({ ...TRIXIE, enforcement: notEnforced });
    expect(skip.get('SocketBindDeny')).toBe('systemd 257 accepts SocketBindDeny here but does not enforce it (checked: probe under SocketBindDeny)');
    expect(skip.get('RestrictFileSystems')).toBe('systemd 257 accepts RestrictFileSystems here but does not enforce it (checked: probe under RestrictFileSystems)');
    expect(tried).not.toContain('SocketBindDeny');
  });

  it('257 with everything enforced and observed: SocketBindDeny and RestrictFileSystems are candidates', () => {
    const { tried } = skips(TRIXIE);
    expect(tried).toEqual(expect.arrayContaining(['SocketBindDeny', 'RestrictFileSystems']));
    expect(skips(TRIXIE, FACTS).skip.get('SocketBindDeny')).toMatch(/did not read the unit's sockets/);
  });
});

describe('observation', () => {
  const MOUNTINFO = [
    '21 1 0:30 / / rw,relatime - overlay overlay rw,lowerdir=/x',
    '22 21 0:5 / /dev rw - devtmpfs devtmpfs rw',
    '23 21 0:22 / /proc rw - proc proc rw',
    '24 21 253:1 /work /run/src rw - ext4 /dev/vda rw',
    '25 21 0:50 / /mnt/x\\040y rw - fuse.evil\\040name evil rw',
    'garbage line',
    '26 21 0:51 / /tmp rw shared:1 - tmpfs tmpfs rw',
  ].join('\n');

  it('parses mount tables and maps, skipping what is not in their form', () => {
    expect(parseMountinfo(MOUNTINFO).map((m) => `${m.id} ${m.dev} ${m.type}`)).toEqual([
      '21 0:30 overlay', '22 0:5 devtmpfs', '23 0:22 proc', '24 253:1 ext4', '25 0:50 fuse.evil\\040name', '26 0:51 tmpfs',
    ]);
    expect(parseMapsDevices('7f00-7f10 r-xp 00000000 fd:01 1234 /usr/lib/x.so\n7f10-7f20 rw-p 00000000 00:00 0 \n[junk]\n')).toEqual(['253:1']);
  });

  it('finds the types of open files (mount id), mapped files and root (device), and the root file system', () => {
    const obs = buildObservation({
      mainPid: 7,
      processes: [{
        pid: 7, status: 'Name:\tx\nUid:\t0\t0\t0\t0\n', mntns: 'mnt:[1]', devs: ['0:30'],
        maps: '7f00-7f10 r-xp 00000000 fd:01 99 /run/src/x.so\n',
        fds: [{ link: '/tmp/a', fdinfo: 'pos:\t0\nflags:\t02\nmnt_id:\t26\n' }, { link: 'socket:[5]', fdinfo: 'mnt_id:\t8\n' }],
      }],
      net: [{ tcp: '' }],
      mountinfo: { 'mnt:[1]': MOUNTINFO },
    });
    expect(obs.fileSystems).toEqual(['ext4', 'overlay', 'tmpfs']);
    const { facts } = observedFacts(obs, 'x', new Map());
    expect(facts.fileSystems).toEqual(['ext4', 'overlay', 'tmpfs']);
    expect(facts.listeners).toEqual([]);
    // no mount table, no socket table: unknown, not "none"
    const bare = buildObservation({ mainPid: 7, processes: [{ pid: 7, status: 'Name:\tx\n', fds: [] }], net: [] });
    expect(observedFacts(bare, 'x', new Map()).facts).not.toHaveProperty('listeners');
    expect(observedFacts(bare, 'x', new Map()).facts).not.toHaveProperty('fileSystems');
  });

  it('turns listening sockets into family/transport/port, once each', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000:0051 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11 1',
      '   1: 00000000:0051 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12 1',
      '   2: 0100007F:1F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 13 1',
    ].join('\n');
    const obs = buildObservation({
      mainPid: 7, processes: [{ pid: 7, status: 'Name:\tx\n', fds: ['socket:[11]', 'socket:[12]', 'socket:[13]'].map((link) => ({ link })) }],
      net: [{ tcp }],
    });
    expect(listenerFacts(obs)).toEqual([{ family: 'ipv4', proto: 'tcp', port: 81 }]);
  });
});

describe('the enforcement check', () => {
  const snap = (over: Partial<UnitSnapshot>): UnitSnapshot => ({
    activeState: 'inactive', subState: 'dead', result: 'success', invocationId: 'i', nRestarts: 0, mainPid: 0, execMainCode: 1, execMainStatus: 0, ...over,
  });
  const sbCheck = ENFORCEMENT_CHECKS.find((c) => c.key === 'SocketBindDeny')!;

  it('writes a oneshot unit of ours with the one setting, and refuses a command line it cannot quote', () => {
    const text = renderEnforcementUnit(sbCheck, '/usr/bin/node');
    expect(text.split('\n')[0]).toBe('# Managed by autoharden');
    expect(text).toContain('\nType=oneshot\n');
    expect(text).toContain('\nSocketBindDeny=any\n');
    expect(text).toMatch(/\nExecStart=\/usr\/bin\/node "-e" "const s=require\('net'\)[^"\n%$\\]*"\n/);
    for (const node of ['/opt/my node/bin/node', 'node', '/x/%n', '/x/"y']) expect(() => renderEnforcementUnit(sbCheck, node), node).toThrow(/safely/);
  });

  it('reads enforced only from the refused status; success and anything else are not enforced', () => {
    expect(enforcementFrom(sbCheck, 'failed', snap({ result: 'exit-code', execMainStatus: 3 }))).toEqual({
      enforced: true, checked: 'listen on 127.0.0.1 (port 0) was refused under SocketBindDeny=any',
    });
    expect(enforcementFrom(sbCheck, 'done', snap({}))).toEqual({ enforced: false, checked: 'listen on 127.0.0.1 (port 0) succeeded under SocketBindDeny=any' });
    expect(enforcementFrom(sbCheck, 'failed', snap({ result: 'exit-code', execMainStatus: 4 })).enforced).toBe(false);
    expect(enforcementFrom(sbCheck, 'failed', snap({ result: 'signal', execMainCode: 2, execMainStatus: 3 })).enforced).toBe(false); // SIGQUIT is not status 3
    expect(enforcementFrom(sbCheck, 'timeout', snap({ result: 'timeout', execMainCode: 0 })).checked).toMatch(/did not run/);
  });

  it('runs only the checks the platform can use, once per process, and removes its units', async () => {
    forgetEnforcement();
    const files = new Map<string, string>();
    const started: string[] = [];
    const systemd = {
      reload: async () => {}, resetFailed: async () => {},
      restart: async (name: string) => (started.push(name), name.includes('socketbind') ? 'failed' : 'done'),
      snapshot: async (name: string) => snap(name.includes('socketbind') ? { result: 'exit-code', execMainStatus: 3 } : {}),
    } as unknown as SystemdPort;
    const port = { write: (n: string, t: string) => void files.set(n, t), remove: (n: string) => void files.delete(n) };
    const noLsm = { ...DEBIAN13_PLATFORM, lsm: ['capability'] };
    const got = await checkEnforcement(systemd, port, noLsm, '/usr/bin/node');
    expect([...got.keys()].sort()).toEqual(['RestrictNetworkInterfaces', 'SocketBindDeny']);
    expect(got.get('SocketBindDeny')!.enforced).toBe(true);
    expect(got.get('RestrictNetworkInterfaces')!.enforced).toBe(false);
    expect(started.every((n) => /^zz-autoharden-check-bpf-[a-z]+-\d+\.service$/.test(n))).toBe(true);
    expect(files.size).toBe(0);
    await checkEnforcement(systemd, port, noLsm, '/usr/bin/node');
    expect(started).toHaveLength(2); // cached
    expect((await checkEnforcement(systemd, port, DEBIAN12_PLATFORM)).size).toBe(0); // nothing to check on 252
    expect(started).toHaveLength(2);
    forgetEnforcement();
  });
});
