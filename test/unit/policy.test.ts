// The safety policy (core/policy.ts) on the facts a real observation gives: what a loopback probe
// cannot vouch for is skipped, with a reason that names the evidence and the way to allow it.
import { describe, expect, it } from 'vitest';
import { optionByName } from '../../src/core/catalog.js';
import { applySafetyPolicy, confinesSessions, NO_DECLARATIONS, type Declarations, type SafetyFacts } from '../../src/core/policy.js';
import type { OptionSpec } from '../../src/core/types.js';

const spec = (name: string): OptionSpec => optionByName(name)!;
const decide = (name: string, f: SafetyFacts, d: Partial<Declarations> = {}) =>
  applySafetyPolicy(spec(name), spec(name).ladder, f, { ...NO_DECLARATIONS, ...d });
const values = (x: ReturnType<typeof decide>) => ('rungs' in x ? x.rungs.map((r) => r.value) : x.skip);

const quiet: SafetyFacts = {
  usesInet: false, inetEndpoints: [], nonLoopbackListeners: [], families: ['AF_UNIX'], peers: [], sessionEvidence: [], createdModes: [],
};
const nginx: SafetyFacts = {
  ...quiet, usesInet: true, inetEndpoints: ['tcp 0.0.0.0:80', 'tcp6 [::]:80'], nonLoopbackListeners: ['0.0.0.0:80', '[::]:80'],
  families: ['AF_INET', 'AF_INET6', 'AF_UNIX'],
};
const sshd: SafetyFacts = {
  ...nginx, inetEndpoints: ['tcp 0.0.0.0:22', 'tcp6 [::]:22'], nonLoopbackListeners: ['0.0.0.0:22', '[::]:22'],
  sessionEvidence: ['PAM stack sshd registers sessions with pam_systemd.so'],
};

describe('reach', () => {
  it('never PrivateNetwork with an inet socket, even a loopback one, and names it', () => {
    const redis = { ...quiet, usesInet: true, inetEndpoints: ['tcp 127.0.0.1:6379'], families: ['AF_INET', 'AF_UNIX'] };
    expect(values(decide('PrivateNetwork', redis))).toMatch(/inet sockets \(tcp 127\.0\.0\.1:6379\)/);
    expect(values(decide('PrivateNetwork', quiet))).toEqual(['yes']);
  });

  it('IPAddressDeny only on a declaration, naming the listener otherwise', () => {
    expect(values(decide('IPAddressDeny', nginx))).toMatch(/listens on 0\.0\.0\.0:80, \[::\]:80; IPAddressDeny needs --allow-net/);
    const local = decide('IPAddressDeny', nginx, { localOnly: true });
    expect('rungs' in local && local.rungs[0]!.lines).toEqual(['IPAddressDeny=any', 'IPAddressAllow=localhost']);
    const allow = decide('IPAddressDeny', nginx, { allowNet: ['10.251.0.2/32'] });
    expect('rungs' in allow && allow.rungs[0]!.lines).toEqual(['IPAddressDeny=any', 'IPAddressAllow=localhost', 'IPAddressAllow=10.251.0.2/32']);
  });

  it('IPAddressDeny skipped when an observed peer is outside the declaration', () => {
    const proxy = { ...nginx, peers: ['10.251.0.2'] };
    expect(values(decide('IPAddressDeny', proxy, { localOnly: true }))).toMatch(/talks to 10\.251\.0\.2/);
    expect(values(decide('IPAddressDeny', proxy, { allowNet: ['10.251.0.0/24'] }))).toEqual(['any, allow localhost 10.251.0.0/24']);
  });

  it('RestrictAddressFamilies keeps every family in use', () => {
    expect(values(decide('RestrictAddressFamilies', { ...nginx, families: ['AF_INET', 'AF_NETLINK', 'AF_UNIX'] })))
      .toEqual(['AF_UNIX AF_INET AF_INET6 AF_NETLINK']);
    expect(values(decide('RestrictAddressFamilies', { ...nginx, families: ['AF_PACKET'] }))).toMatch(/uses AF_PACKET/);
  });

  it('UMask no tighter than the modes of what the unit creates', () => {
    expect(values(decide('UMask', { ...quiet, createdModes: [{ path: '/var/log/nginx/access.log', mode: 0o640 }] }))).toEqual(['0027']);
    expect(values(decide('UMask', { ...quiet, createdModes: [{ path: '/run/x.sock', mode: 0o666 }] }))).toMatch(/\/run\/x\.sock with mode 0666/);
  });
});

describe('spawned sessions', () => {
  it('skips what confines the sessions unless --confine-sessions', () => {
    expect(values(decide('ProtectSystem', sshd))).toMatch(/spawns login sessions \(PAM stack sshd .*--confine-sessions/);
    expect(values(decide('ProtectSystem', sshd, { confineSessions: true }))).toEqual(['strict', 'full', 'yes']);
  });

  it('counts UMask as confining: sessions inherit the umask of the service that spawns them', () => {
    expect(confinesSessions(spec('UMask'))).toBe(true);
    expect(values(decide('UMask', sshd))).toMatch(/spawns login sessions.*UMask would confine them/);
    expect(values(decide('UMask', sshd, { confineSessions: true }))).toEqual(['0077', '0027']);
    expect(values(decide('UMask', nginx))).toEqual(['0077', '0027']);
  });

  it('IPAddressDeny reaches sessions that stay in the unit cgroup (cron: no pam_systemd moves them out)', () => {
    const cron = { ...quiet, sessionEvidence: ['PAM stack cron opens sessions for people (pam_loginuid.so)'], sessionsStayInUnit: true };
    expect(values(decide('IPAddressDeny', cron, { localOnly: true }))).toMatch(/spawns login sessions.*IPAddressDeny would confine them too/);
    expect(values(decide('IPAddressDeny', cron, { localOnly: true, confineSessions: true }))).toEqual(['any, allow localhost']);
    expect(confinesSessions(spec('IPAddressDeny'))).toBe(false);
  });

  it('gives the reach reason first: --confine-sessions would not make it safe', () => {
    expect(values(decide('PrivateNetwork', sshd))).toMatch(/^has inet sockets \(tcp 0\.0\.0\.0:22/);
    expect(values(decide('PrivateNetwork', sshd, { confineSessions: true }))).toMatch(/^has inet sockets/);
    expect(values(decide('IPAddressDeny', sshd))).toMatch(/^listens on 0\.0\.0\.0:22/);
    // declared reach: IPAddressDeny filters the unit's cgroup, which pam_systemd moves sessions out of
    expect(values(decide('IPAddressDeny', sshd, { localOnly: true }))).toEqual(['any, allow localhost']);
  });
});
