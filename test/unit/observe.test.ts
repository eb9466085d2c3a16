// Parsers and summaries of core/observe on /proc text recorded from a box (scripts/box.sh) running
// nginx, memcached, redis-server, systemd-journald and a Node service ("nodefix") that listens on
// 0.0.0.0:8089 and [::]:8090, connects to itself over 127.0.0.1 and to 10.251.0.2:9000 (a remote
// test host), binds UDP 0.0.0.0:5353 and [::1]:8125, two Unix sockets, and opens files.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildObservation,
  familiesInUse,
  flattenPamStack,
  isLoopback,
  listensOnNonLoopback,
  nonLoopbackListeners,
  observedFacts,
  formatEndpoint,
  opensForWriting,
  pamSetsLoginuid,
  pamUsesSystemd,
  parseFdinfoFlags,
  parseLoginuid,
  parseProcCgroup,
  parseProcNet,
  parseProcNetNetlink,
  parseProcNetPacket,
  parseProcNetUnix,
  parseSocketFdLinks,
  parseStat,
  parseStatus,
  peers,
  probeBlindSpots,
  probesOnlyLocal,
  sessionEvidence,
  sessionsStayInUnit,
  spawnsSessions,
  unprobedListeners,
  usesInet,
  writeTargets,
  type RawNetTables,
  type RawProcess,
  type PathMode,
  type SessionInput,
  type UnitObservation,
  type SessionProcess,
} from '../../src/core/observe.js';
import { parseProbeSpec } from '../../src/core/probeSpec.js';
import { capsFromMask } from '../../src/core/capabilities.js';

const dir = join(import.meta.dirname, '..', 'fixtures', 'proc');
const fx = (name: string) => readFileSync(join(dir, name), 'utf8');

const net: RawNetTables = Object.fromEntries(
  (['tcp', 'tcp6', 'udp', 'udp6', 'unix', 'netlink', 'packet'] as const).map((k) => [k, fx(`net-${k}.txt`)]),
);

/** fd-*.txt holds "N target" lines, as `readlink /proc/PID/fd/N` prints them. */
function fds(name: string, fdinfo: Record<string, string> = {}): RawProcess['fds'] {
  return fx(name)
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [fd, link] = [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)];
      return { link, fdinfo: fdinfo[fd] === undefined ? undefined : fx(fdinfo[fd]) };
    });
}

const status = (uid: number, name: string) =>
  `Name:\t${name}\nPPid:\t1\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${uid}\t${uid}\t${uid}\t${uid}\nCapEff:\t0000000000000000\n`;

function observe(mainPid: number, processes: RawProcess[]) {
  return buildObservation({ mainPid, processes, net: [net] });
}

const nginx = () =>
  observe(67, [
    { pid: 67, status: fx('status-nginx-master.txt'), cgroup: fx('nginx-67-cgroup.txt'), cwd: '/',
      fds: fds('fd-nginx-master.txt', { 2: 'fdinfo-nginx-master-2.txt', 3: 'fdinfo-nginx-master-3.txt', 4: 'fdinfo-nginx-master-4.txt' }) },
    { pid: 68, status: fx('status-nginx-worker.txt'), cgroup: fx('nginx-68-cgroup.txt'), fds: fds('fd-nginx-worker.txt') },
  ]);
const redis = () => observe(65, [{ pid: 65, status: status(102, 'redis-server'), fds: fds('fd-redis.txt') }]);
const memcached = () => observe(63, [{ pid: 63, status: status(103, 'memcached'), fds: fds('fd-memcached.txt') }]);
const nodefix = () =>
  observe(100, [{ pid: 100, status: status(0, 'node'), cwd: '/var/tmp',
    fds: fds('fd-nodefix.txt', { 0: 'fdinfo-devnull.txt', 20: 'fdinfo-append.txt', 21: 'fdinfo-rdwr.txt', 22: 'fdinfo-rdonly.txt' }) }]);
const journald = () => observe(40, [{ pid: 40, status: fx('status-journald.txt'), fds: fds('fd-journald.txt') }]);

describe('/proc/net tables', () => {
  it('decodes IPv4 addresses, ports and states', () => {
    const tcp = parseProcNet(fx('net-tcp.txt'), 'tcp');
    const by = (inode: number) => tcp.find((s) => s.inode === inode);
    expect(tcp).toHaveLength(6);
    expect(by(50021)).toEqual({ proto: 'tcp', inode: 50021, local: { address: '127.0.0.1', port: 6379 }, remote: { address: '0.0.0.0', port: 0 }, state: 'LISTEN' });
    expect(by(49973)).toMatchObject({ local: { address: '0.0.0.0', port: 80 }, state: 'LISTEN' });
    expect(by(53219)).toMatchObject({ local: { address: '127.0.0.1', port: 54096 }, remote: { address: '127.0.0.1', port: 8090 }, state: 'ESTABLISHED' });
    expect(by(53220)).toMatchObject({ local: { address: '10.251.0.1', port: 47812 }, remote: { address: '10.251.0.2', port: 9000 }, state: 'ESTABLISHED' });
  });

  it('decodes IPv6, including IPv4-mapped peers', () => {
    const tcp6 = parseProcNet(fx('net-tcp6.txt'), 'tcp6');
    expect(tcp6.map((s) => `${formatEndpoint(s.local)} ${formatEndpoint(s.remote)} ${s.state}`)).toEqual([
      '[::1]:6379 [::]:0 LISTEN',
      '[::]:80 [::]:0 LISTEN',
      '[::]:8090 [::]:0 LISTEN',
      '[::ffff:127.0.0.1]:8090 [::ffff:127.0.0.1]:54096 ESTABLISHED',
    ]);
  });

  it('compresses IPv6 per RFC 5952', () => {
    // fe80::1 and 2001:db8::ff00:42:8329, each 32-bit word printed little-endian.
    const row = (hex: string) => `  sl local rem st\n   0: ${hex}:0050 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 77 1\n`;
    const addr = (hex: string) => parseProcNet(row(hex), 'tcp6')[0]?.local.address;
    expect(addr('000080FE000000000000000001000000')).toBe('fe80::1');
    expect(addr('B80D01200000000000FF000029834200')).toBe('2001:db8::ff00:42:8329');
    expect(addr('B80D01200000000000000100' + '01000000')).toBe('2001:db8::1:0:0:1'); // first run on a tie
    expect(addr('B80D0120010000000100010001000100')).toBe('2001:db8:0:1:1:1:1:1'); // one zero group stays
  });

  it('reads UDP sockets, bound but unconnected as CLOSE', () => {
    expect(parseProcNet(fx('net-udp.txt'), 'udp')).toEqual([
      { proto: 'udp', inode: 53217, local: { address: '0.0.0.0', port: 5353 }, remote: { address: '0.0.0.0', port: 0 }, state: 'CLOSE' },
    ]);
    expect(parseProcNet(fx('net-udp6.txt'), 'udp6')[0]).toMatchObject({ local: { address: '::1', port: 8125 }, state: 'CLOSE' });
  });

  it('reads Unix sockets: paths, abstract names, listening', () => {
    const unix = parseProcNetUnix(fx('net-unix.txt'));
    const by = (inode: number) => unix.find((s) => s.inode === inode);
    expect(unix).toHaveLength(34);
    expect(by(53213)).toEqual({ inode: 53213, path: '/run/nodefix.sock', type: 'stream', listening: true });
    expect(by(53214)?.path).toMatch(/^@nodefix-abstract@*$/); // libuv binds the whole sun_path: NULs show as '@'
    expect(by(48543)).toEqual({ inode: 48543, path: '/run/systemd/notify', type: 'dgram', listening: false });
    expect(by(49958)).toEqual({ inode: 49958, path: '', type: 'stream', listening: false });
  });

  it('reads netlink and packet tables', () => {
    const nl = parseProcNetNetlink(fx('net-netlink.txt'));
    expect(nl).toHaveLength(11);
    expect(nl.find((s) => s.inode === 48558)).toEqual({ inode: 48558, protocol: 9 });
    expect(parseProcNetPacket(fx('net-packet.txt'))).toEqual([]);
    expect(parseProcNetPacket('sk RefCnt Type Proto Iface R Rmem User Inode\nffff8a 3 3 0003 2 1 0 0 61234\n')).toEqual([{ inode: 61234 }]);
  });
});

describe('/proc/PID files', () => {
  it('takes socket inodes from fd links', () => {
    expect(parseSocketFdLinks(fds('fd-nginx-master.txt').map((f) => f.link))).toEqual([49978, 49973, 49974, 49975, 49976, 49977]);
  });

  it('tells write mode from fdinfo flags', () => {
    const flags = (f: string) => parseFdinfoFlags(fx(f))!;
    expect(flags('fdinfo-append.txt')).toBe(0o2102001);
    expect(opensForWriting(flags('fdinfo-append.txt'))).toBe(true);
    expect(opensForWriting(flags('fdinfo-rdwr.txt'))).toBe(true);
    expect(opensForWriting(flags('fdinfo-rdonly.txt'))).toBe(false);
    expect(parseFdinfoFlags('pos:\t0\n')).toBeUndefined();
  });

  it('leaves out null devices, deleted files and memfds', () => {
    const w = fx('fdinfo-rdwr.txt');
    const got = writeTargets([
      { link: '/dev/null', fdinfo: w }, { link: '/var/lib/x/tmp (deleted)', fdinfo: w }, { link: '/memfd:jit (deleted)', fdinfo: w },
      { link: '/var/lib/x/db', fdinfo: w }, { link: '/var/lib/x/ro', fdinfo: fx('fdinfo-rdonly.txt') }, { link: '/var/lib/x/gone' },
    ]);
    expect(got).toEqual(['/var/lib/x/db']);
  });

  it('reads ids and capabilities from status', () => {
    expect(parseStatus(fx('status-nginx-worker.txt'))).toEqual({ name: 'nginx', ppid: 67, uid: 33, gid: 33, capEff: 0, capPrm: 0, capBnd: 0x1fffeffffff });
    const j = parseStatus(fx('status-journald.txt'));
    expect(j.uid).toBe(0);
    expect(capsFromMask(j.capEff)).toEqual([
      'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SYS_PTRACE',
      'CAP_SYS_ADMIN', 'CAP_AUDIT_CONTROL', 'CAP_MAC_OVERRIDE', 'CAP_SYSLOG', 'CAP_AUDIT_READ',
    ]);
  });

  it('reads stat, cgroup and loginuid', () => {
    expect(parseStat(fx('session-232-stat.txt'))).toEqual({ pid: 232, comm: 'sleep', ppid: 230 });
    expect(parseStat('42 (a) b) S 7 42 42 0')).toEqual({ pid: 42, comm: 'a) b', ppid: 7 });
    // The box mounts only cgroup2, yet the host's v1 hierarchies still show as '/'.
    expect(parseProcCgroup(fx('nginx-68-cgroup.txt'))).toBe('/system.slice/nginx.service');
    expect(parseProcCgroup('1:name=systemd:/system.slice/cron.service\n0::/\n')).toBe('/system.slice/cron.service');
    expect(parseLoginuid(fx('nginx-68-loginuid.txt'))).toBeUndefined();
    expect(parseLoginuid(fx('session-232-loginuid.txt'))).toBe(1000);
  });
});

describe('observation summaries', () => {
  it('nginx listens on 0.0.0.0:80 and [::]:80', () => {
    const o = nginx();
    expect(o.pids).toEqual([67, 68]);
    expect(o.inet.map((s) => formatEndpoint(s.local))).toEqual(['0.0.0.0:80', '[::]:80']);
    expect(listensOnNonLoopback(o)).toBe(true);
    expect(nonLoopbackListeners(o)).toHaveLength(2);
    expect(usesInet(o)).toBe(true);
    expect(familiesInUse(o)).toEqual(['AF_INET', 'AF_INET6', 'AF_UNIX']); // the master's socketpairs to workers
    expect(o.writablePaths).toEqual(['/var/log/nginx/access.log', '/var/log/nginx/error.log']);
    expect(o.processes[1]).toMatchObject({ uid: 33, capEff: 0, cgroup: '/system.slice/nginx.service' });
    expect(o.otherSockets).toEqual([]);
  });

  it('redis and memcached listen on loopback only', () => {
    const r = redis();
    expect(r.inet.map((s) => formatEndpoint(s.local))).toEqual(['127.0.0.1:6379', '[::1]:6379']);
    expect(listensOnNonLoopback(r)).toBe(false);
    expect(familiesInUse(r)).toEqual(['AF_INET', 'AF_INET6', 'AF_UNIX']); // stdout is a socket to journald
    const m = memcached();
    expect(m.inet.map((s) => formatEndpoint(s.local))).toEqual(['127.0.0.1:11211']);
    expect(listensOnNonLoopback(m)).toBe(false);
    expect(familiesInUse(m)).toEqual(['AF_INET', 'AF_UNIX']);
    expect(peers(m)).toEqual([]);
  });

  it('finds peers beyond loopback, files open for writing and the cwd', () => {
    const o = nodefix();
    expect(o.inet).toHaveLength(7);
    expect(peers(o)).toEqual(['10.251.0.2']); // not 127.0.0.1 nor ::ffff:127.0.0.1
    expect(nonLoopbackListeners(o).map((s) => `${s.proto} ${formatEndpoint(s.local)}`)).toEqual(['tcp 0.0.0.0:8089', 'tcp6 [::]:8090', 'udp 0.0.0.0:5353']);
    expect(o.unix.filter((s) => s.listening).map((s) => s.path.slice(0, 18))).toEqual(['/run/nodefix.sock', '@nodefix-abstract@']);
    expect(o.writablePaths).toEqual(['/var/tmp/nodefix.db', '/var/tmp/nodefix.log']);
    expect(o.cwd).toBe('/var/tmp');
  });

  it('sees netlink in use', () => {
    const o = journald();
    expect(familiesInUse(o)).toEqual(['AF_NETLINK', 'AF_UNIX']);
    expect(o.netlink).toEqual([{ inode: 48558, protocol: 9 }]);
    expect(usesInet(o)).toBe(false);
    expect(o.otherSockets).toEqual([]);
    const extra = buildObservation({ mainPid: 40, net: [net], processes: [{ pid: 40, status: fx('status-journald.txt'), fds: [{ link: 'socket:[99999]' }] }] });
    expect(extra.otherSockets).toEqual([99999]); // AF_ALG, vsock … or another namespace
  });

  it('tells loopback apart', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1']) expect(isLoopback(a)).toBe(true);
    for (const a of ['0.0.0.0', '::', '10.251.0.1', '::ffff:10.0.0.1', 'fe80::1', '128.0.0.1']) expect(isLoopback(a)).toBe(false);
  });
});

describe('probesOnlyLocal', () => {
  const probes = (...raw: string[]) => raw.map(parseProbeSpec);
  it('is true when every probe goes through loopback while the unit listens beyond it', () => {
    expect(probesOnlyLocal(probes('http://127.0.0.1/'), nginx())).toBe(true);
    expect(probesOnlyLocal(probes('http://localhost:80/health', 'tcp://[::1]:80', 'https://[::ffff:127.0.0.1]/'), nginx())).toBe(true);
    expect(probesOnlyLocal(probes('exec:pg_isready -h /run/postgresql'), nginx())).toBe(true);
    expect(probesOnlyLocal([], nginx())).toBe(true);
  });
  it('is false when a probe comes from a non-loopback address or the unit listens on loopback only', () => {
    expect(probesOnlyLocal(probes('http://127.0.0.1/', 'http://10.251.0.1/'), nginx())).toBe(false);
    expect(probesOnlyLocal(probes('tcp://www.example.org:80'), nginx())).toBe(false);
    expect(probesOnlyLocal(probes('tcp://127.0.0.1:6379'), redis())).toBe(false);
  });
});

describe('probeBlindSpots', () => {
  const probes = (...raw: string[]) => raw.map(parseProbeSpec);
  const where = (xs: ReturnType<typeof unprobedListeners>) => xs.map((s) => formatEndpoint(s.local));
  it('names TCP listeners no http/tcp probe connects to: a Unix-socket probe of a TCP service', () => {
    expect(where(unprobedListeners(probes('exec:redis-cli -s /run/redis/redis-server.sock ping'), redis()))).toEqual(['127.0.0.1:6379', '[::1]:6379']);
    const w = probeBlindSpots(probes('exec:redis-cli -s /run/redis/redis-server.sock ping'), redis());
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^no http:\/\/ or tcp:\/\/ probe connects to 127\.0\.0\.1:6379, \[::1\]:6379; /);
  });
  it('a probe on the port covers the listener, whatever the address it uses', () => {
    expect(unprobedListeners(probes('tcp://127.0.0.1:6379'), redis())).toEqual([]);
    expect(unprobedListeners(probes('http://127.0.0.1/'), nginx())).toEqual([]);
    expect(where(unprobedListeners(probes('https://127.0.0.1/'), nginx()))).toEqual(['0.0.0.0:80', '[::]:80']);
  });
  it('keeps the loopback-only warning, word for word', () => {
    const w = probeBlindSpots(probes('http://127.0.0.1/'), nginx());
    expect(w).toEqual(['every probe goes through loopback or a local command, but the unit listens on 0.0.0.0:80, [::]:80: the probes cannot see what remote clients see; options that restrict reach are held back by policy']);
    expect(probeBlindSpots(probes('http://127.0.0.1/', 'http://10.251.0.1/'), nginx())).toEqual([]);
  });
});

describe('session detection', () => {
  const proc = (pid: number): SessionProcess => ({
    pid,
    ppid: parseStat(fx(`session-${pid}-stat.txt`))!.ppid,
    comm: parseStat(fx(`session-${pid}-stat.txt`))!.comm,
    cgroup: parseProcCgroup(fx(`session-${pid}-cgroup.txt`)),
    loginuid: parseLoginuid(fx(`session-${pid}-loginuid.txt`)),
  });
  const pam = (name: string) => {
    try {
      return fx(`pam-${name}.txt`);
    } catch {
      return undefined;
    }
  };

  it('a descendant in a session-N.scope → true', () => {
    const input: SessionInput = { processes: [proc(230), proc(231), proc(232)] };
    expect(spawnsSessions(input)).toBe(true);
    expect(sessionEvidence(input)).toEqual(['pid 232 (sleep) lives in /user.slice/user-1000.slice/session-3.scope']);
  });

  it('a descendant with its own login UID → true, unless the unit carries the same', () => {
    const moved = { ...proc(232), cgroup: '/system.slice/sessfix.service' };
    expect(sessionEvidence({ processes: [proc(230), moved] })).toEqual(['pid 232 (sleep) carries login UID 1000']);
    expect(spawnsSessions({ unitLoginuid: 1000, processes: [moved] })).toBe(false);
  });

  it('a plain worker → false', () => {
    const worker: SessionProcess = { pid: 68, ppid: 67, comm: 'nginx', cgroup: parseProcCgroup(fx('nginx-68-cgroup.txt')), loginuid: parseLoginuid(fx('nginx-68-loginuid.txt')) };
    expect(spawnsSessions({ processes: [{ ...worker, pid: 67, ppid: 1 }, worker] })).toBe(false);
  });

  it('a PAM stack that reaches pam_systemd.so through @include common-session → true', () => {
    const stack = flattenPamStack('login', pam)!;
    expect(fx('pam-login.txt')).not.toContain('pam_systemd');
    expect(pamUsesSystemd(stack)).toBe(true);
    expect(sessionEvidence({ processes: [], pamService: 'login', pamStack: stack })).toEqual(['PAM stack login registers sessions with pam_systemd.so']);
  });

  it('a PAM stack with pam_loginuid.so (cron, atd: jobs for people, kept in the unit) → true', () => {
    const cron = '@include common-auth\nsession required pam_loginuid.so\n@include common-session-noninteractive\n';
    expect(pamSetsLoginuid(cron)).toBe(true);
    expect(pamSetsLoginuid('# session required pam_loginuid.so\nauth required pam_loginuid.so\n')).toBe(false);
    expect(sessionEvidence({ processes: [], pamService: 'cron', pamStack: cron })).toEqual(['PAM stack cron opens sessions for people (pam_loginuid.so)']);
    // pam_systemd says more; one line of PAM evidence is enough
    const sshd = flattenPamStack('sshd', (n) => (n === 'sshd' ? 'session required pam_loginuid.so\n@include common-session\n' : pam(n)))!;
    expect(sessionEvidence({ processes: [], pamService: 'sshd', pamStack: sshd })).toEqual(['PAM stack sshd registers sessions with pam_systemd.so']);
    expect(sessionEvidence({ processes: [], pamService: 'runuser', pamStack: flattenPamStack('runuser', pam)! })).toEqual([]);
    // cron's jobs stay in cron.service; sshd's sessions move to a scope
    expect(sessionsStayInUnit({ processes: [], pamService: 'cron', pamStack: cron })).toBe(true);
    expect(sessionsStayInUnit({ processes: [], pamService: 'sshd', pamStack: sshd })).toBe(false);
    expect(sessionsStayInUnit({ processes: [proc(230), proc(231), proc(232)], pamService: 'cron', pamStack: cron })).toBe(false);
    expect(sessionsStayInUnit({ processes: [] })).toBe(false);
  });

  it('PAM stacks without pam_systemd, or pulling it only into another type → false', () => {
    expect(pamUsesSystemd(flattenPamStack('runuser', pam)!)).toBe(false);
    const lookup = (n: string) => ({ cron: '@include common-auth\nsession required pam_loginuid.so\n@include common-session-noninteractive\n', wrong: 'auth include common-session\n# session optional pam_systemd.so\n' })[n] ?? pam(n);
    expect(pamUsesSystemd(flattenPamStack('cron', lookup)!)).toBe(false);
    expect(pamUsesSystemd(flattenPamStack('wrong', lookup)!)).toBe(false);
    expect(pamUsesSystemd(flattenPamStack('sub', (n) => (n === 'sub' ? 'session substack common-session\n' : pam(n)))!)).toBe(true);
    expect(flattenPamStack('loop', (n) => (n === 'loop' ? '@include loop\n' : undefined))).toBe('');
    expect(flattenPamStack('missing', pam)).toBeUndefined();
    expect(flattenPamStack('../../etc/shadow', pam)).toBeUndefined();
  });
});

describe('observedFacts (what the adapter hands the policy)', () => {
  const obs = {
    mainPid: 10, pids: [10], inet: [], netlink: [], packet: [], otherSockets: [], warnings: [],
    processes: [{ pid: 10, name: 'app', uid: 998 }, { pid: 11, name: 'worker', uid: 0 }],
    unix: [
      { inode: 1, path: '/run/app/ctl.sock', type: 'stream', listening: true },
      { inode: 2, path: '@abstract', type: 'stream', listening: true },
      { inode: 3, path: '/run/app/peer.sock', type: 'stream', listening: false },
    ],
    writablePaths: ['/var/log/app/error.log', '/var/log/app/access.log', '/var/lib/app/db', '/var/lib/app/gone', '/srv/app/requests.log', '/tmp/fifo'],
  } as unknown as UnitObservation;
  const file = (path: string, mode = 0o640): [string, PathMode] => [path, { path, mode, file: true, socket: false }];
  const modes = new Map<string, PathMode>([
    file('/var/log/app/error.log'), file('/var/log/app/access.log'), file('/var/lib/app/db', 0o600), file('/srv/app/requests.log'),
    ['/tmp/fifo', { path: '/tmp/fifo', mode: 0o666, file: false, socket: false }],
    ['/run/app/ctl.sock', { path: '/run/app/ctl.sock', mode: 0o666, file: false, socket: true }],
  ]);

  it('reads logs the service writes, never request logs (clients write them), nor what is no file', () => {
    const { logFiles } = observedFacts(obs, 'app', modes);
    expect(logFiles).toEqual(['/var/log/app/error.log']);
  });

  it('counts created files and listening sockets by path; a vanished path or a non-socket counts for nothing', () => {
    const { facts } = observedFacts(obs, 'app', modes);
    expect(facts.createdModes).toEqual([
      { path: '/var/log/app/error.log', mode: 0o640 }, { path: '/var/log/app/access.log', mode: 0o640 },
      { path: '/var/lib/app/db', mode: 0o600 }, { path: '/srv/app/requests.log', mode: 0o640 },
      { path: '/run/app/ctl.sock', mode: 0o666 },
    ]);
    expect(facts.writableDirs).toEqual(['/srv/app', '/var/lib/app', '/var/log/app']);
    // a socket path swapped for a regular file is not a socket the unit created
    const swapped = new Map(modes).set('/run/app/ctl.sock', { path: '/run/app/ctl.sock', mode: 0o644, file: true, socket: false });
    expect(observedFacts(obs, 'app', swapped).facts.createdModes.map((m) => m.path)).not.toContain('/run/app/ctl.sock');
  });

  it('lists uids sorted and commands without an unknown binary', () => {
    const { facts } = observedFacts(obs, '', modes);
    expect(facts.uids).toEqual([0, 998]);
    expect(facts.commands).toEqual(['app', 'worker']);
    expect(facts.usesInet).toBe(false);
    expect(facts.sessionEvidence).toEqual([]);
  });
});
