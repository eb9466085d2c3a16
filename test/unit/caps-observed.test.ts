// The capabilities predicted from the kernel's records of a unit's processes (core/capsObserved.ts),
// on the shapes of the five services measured on Debian 12 (bench/downtime.sh) and on inputs a
// service could arrange: files it holds, ids it switched to, a setuid exec, malformed status text.
import { describe, expect, it } from 'vitest';
import { capsNeeded, startIdentity, type CapsContext } from '../../src/core/capsObserved.js';
import { buildObservation, parseIds, type RawNetTables, type RawProcess } from '../../src/core/observe.js';

const ROOT: CapsContext['start'] = { root: true, rootGroup: true };
const USER: CapsContext['start'] = { root: false, rootGroup: false };
const ctx = (start: CapsContext['start'], extra: Partial<CapsContext> = {}): CapsContext => ({ start, unprivilegedPortStart: 1024, ...extra });

const status = (name: string, ppid: number, uid: number | string, gid: number | string, groups = '') =>
  `Name:\t${name}\nPPid:\t${ppid}\nUid:\t${typeof uid === 'number' ? `${uid}\t${uid}\t${uid}\t${uid}` : uid}\nGid:\t${typeof gid === 'number' ? `${gid}\t${gid}\t${gid}\t${gid}` : gid}\nGroups:\t${groups} \nCapEff:\t0\n`;

// open flags as fdinfo prints them (octal): O_WRONLY|O_APPEND|O_CLOEXEC|O_LARGEFILE, O_RDONLY|O_LARGEFILE, O_RDWR
const APPEND = '02102001';
const RDONLY = '0100000';
const RDWR = '0100002';
const O_PATH = '012100000';
const REG = 0o100000;
const DIR = 0o040000;

type Fd = RawProcess['fds'][number];
const file = (path: string, uid: number, gid: number, perm: number, flags: string, type = REG): Fd => ({
  link: path, fdinfo: `pos:\t0\nflags:\t${flags}\nmnt_id:\t25\n`, stat: { uid, gid, mode: type | perm },
});
const sock = (inode: number): Fd => ({ link: `socket:[${inode}]` });
const proc = (pid: number, st: string, fds: Fd[] = []): RawProcess => ({ pid, status: st, fds });

/** A /proc/net/tcp{,6} table row in LISTEN (0A) on a port. */
function listen(port: number, inode: number, v6 = false): string {
  const addr = v6 ? '0'.repeat(32) : '00000000';
  return `   0: ${addr}:${port.toString(16).toUpperCase().padStart(4, '0')} ${addr}:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0`;
}
const HEAD = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const net = (v4: string[], v6: string[] = []): RawNetTables => ({ tcp: [HEAD, ...v4].join('\n'), tcp6: [HEAD, ...v6].join('\n') });

const obsOf = (processes: RawProcess[], tables: RawNetTables = net([])) => buildObservation({ mainPid: processes[0]?.pid ?? 0, processes, net: [tables] });
const caps = (n: ReturnType<typeof capsNeeded>) => n?.map((c) => c.cap);

describe('the five measured services', () => {
  it('nginx: root master, www-data workers, port 80, logs owned by www-data:adm 0640 held open by root', () => {
    const logs = [file('/var/log/nginx/error.log', 33, 4, 0o640, APPEND), file('/var/log/nginx/access.log', 33, 4, 0o640, APPEND)];
    const obs = obsOf(
      [
        proc(67, status('nginx', 1, 0, 0), [file('/dev/null', 0, 0, 0o666, RDWR, 0o020000), ...logs, sock(11), sock(12)]),
        proc(68, status('nginx', 67, 33, 33, '33'), [...logs, sock(11), sock(12)]),
        proc(69, status('nginx', 67, 33, 33, '33'), [...logs, sock(11), sock(12)]),
      ],
      net([listen(80, 11)], [listen(80, 12, true)]),
    );
    const n = capsNeeded(obs, ctx(ROOT));
    expect(caps(n)).toEqual(['CAP_DAC_OVERRIDE', 'CAP_SETGID', 'CAP_SETUID', 'CAP_NET_BIND_SERVICE']);
    const why = Object.fromEntries(n!.map((c) => [c.cap, c.why]));
    expect(why.CAP_SETUID).toBe('nginx runs as uid 33 under root nginx');
    expect(why.CAP_SETGID).toBe('nginx runs as gid 33 under root nginx');
    expect(why.CAP_NET_BIND_SERVICE).toBe('listens on tcp port 80');
    expect(why.CAP_DAC_OVERRIDE).toBe('root writes /var/log/nginx/error.log owned by uid 33 mode 0640; root writes /var/log/nginx/access.log owned by uid 33 mode 0640');
  });

  it('postgresql@15-main: pg_ctlcluster started as root is gone, every process runs as postgres', () => {
    const log = file('/var/log/postgresql/postgresql-15-main.log', 101, 4, 0o640, APPEND);
    const obs = obsOf(
      [
        proc(74, status('postgres', 1, 101, 104, '103 104'), [log, sock(21)]),
        proc(75, status('postgres', 74, 101, 104, '103 104'), [log]),
        proc(79, status('postgres', 74, 101, 104, '103 104'), [log, file('/var/lib/postgresql/15/main/global/1262', 101, 104, 0o600, RDWR)]),
      ],
      net([`   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 21 1`]),
    );
    const n = capsNeeded(obs, ctx(ROOT));
    expect(caps(n)).toEqual(['CAP_SETGID', 'CAP_SETUID']);
    expect(n![1]!.why).toBe('postgres runs as uid 101 though the unit starts as root');
    // the same processes under User=postgres switched nothing
    expect(capsNeeded(obs, ctx(USER))).toEqual([]);
  });

  it('caddy: User=caddy with an ambient NET_BIND_SERVICE on port 80 needs only that', () => {
    const obs = obsOf([proc(90, status('caddy', 1, 998, 998, '998'), [sock(31), sock(32), file('/var/lib/caddy/x', 998, 998, 0o600, RDWR)])], net([listen(2019, 32)], [listen(80, 31, true)]));
    expect(capsNeeded(obs, ctx(USER))).toEqual([{ cap: 'CAP_NET_BIND_SERVICE', why: 'listens on tcp port 80' }]);
  });

  it('redis (User=redis) and mariadb (User=mysql) need none', () => {
    const redis = obsOf([proc(50, status('redis-server', 1, 105, 107, '107'), [sock(41), file('/var/log/redis/redis-server.log', 105, 107, 0o660, APPEND)])], net([listen(6379, 41)]));
    const maria = obsOf([proc(60, status('mariadbd', 1, 106, 108, '108'), [sock(51), file('/var/lib/mysql/ibdata1', 106, 108, 0o660, RDWR)])], net([listen(3306, 51)]));
    expect(capsNeeded(redis, ctx(USER))).toEqual([]);
    expect(capsNeeded(maria, ctx(USER))).toEqual([]);
  });
});

describe('what the service could arrange', () => {
  it('a root service holding root-owned files, files others may write and its group’s files needs no DAC capability', () => {
    const obs = obsOf([
      proc(10, status('daemon', 1, 0, 0, '4'), [
        file('/var/lib/d/state', 0, 0, 0o600, RDWR),
        file('/etc/d.conf', 0, 0, 0o644, RDONLY),
        file('/tmp/shared', 33, 33, 0o666, RDWR),
        file('/var/log/d.log', 33, 4, 0o660, APPEND), // root is in adm (4)
        file('/srv/x', 33, 33, 0o600, O_PATH), // O_PATH opens without permission checks
      ]),
    ]);
    expect(capsNeeded(obs, ctx(ROOT))).toEqual([]);
  });

  it('asks DAC_READ_SEARCH for reads root may not do, and only DAC_OVERRIDE once a write needs it', () => {
    const reader = [file('/home/u/secret', 1000, 1000, 0o600, RDONLY), file('/home/u', 1000, 1000, 0o700, RDONLY, DIR)];
    const obs = obsOf([proc(10, status('backup', 1, 0, 0), reader)]);
    const n = capsNeeded(obs, ctx(ROOT));
    expect(caps(n)).toEqual(['CAP_DAC_READ_SEARCH']);
    expect(n![0]!.why).toBe('root reads /home/u/secret owned by uid 1000 mode 0600; root reads /home/u owned by uid 1000 mode 0700');
    const both = obsOf([proc(10, status('backup', 1, 0, 0), [...reader, file('/home/u/out', 1000, 1000, 0o600, RDWR)])]);
    expect(caps(capsNeeded(both, ctx(ROOT)))).toEqual(['CAP_DAC_OVERRIDE']);
  });

  it('a process that became root by a setuid exec shows no need: neither it nor its children used root’s capabilities', () => {
    const obs = obsOf([
      proc(50, status('app', 1, 105, 107, '107')),
      proc(51, status('sudo', 50, '105\t0\t0\t0', 107, '107'), [file('/var/lib/app/db', 105, 107, 0o600, RDWR)]),
      proc(52, status('helper', 51, 200, 200, '200')),
    ]);
    expect(capsNeeded(obs, ctx(USER))).toEqual([]);
  });

  it('in a root unit, only the switch made by a root process counts, not one made under a switched parent', () => {
    const obs = obsOf([
      proc(67, status('master', 1, 0, 0)),
      proc(68, status('worker', 67, 33, 33, '33')),
      proc(69, status('su', 68, '33\t0\t0\t0', 33, '33'), [file('/var/lib/w/db', 33, 33, 0o600, RDWR)]),
      proc(70, status('child', 69, 44, 44, '44')),
    ]);
    const n = capsNeeded(obs, ctx(ROOT));
    expect(caps(n)).toEqual(['CAP_SETGID', 'CAP_SETUID']);
    expect(n!.map((c) => c.why).join(' ')).not.toMatch(/child|44|\/var\/lib\/w/);
  });

  it('a child that only changed its supplementary groups needs SETGID', () => {
    const obs = obsOf([proc(1000, status('m', 1, 0, 0)), proc(1001, status('m', 1000, 0, 0, '4 27'))]);
    expect(capsNeeded(obs, ctx(ROOT))).toEqual([{ cap: 'CAP_SETGID', why: 'm runs with groups 4 27 under root m' }]);
  });

  it('malformed ids predict nothing at all, rather than part of the truth', () => {
    const bad = ['0\t0\t0', '0\t0\t0\tx', '-1\t0\t0\t0', '99999999999\t0\t0\t0', '0 0 0 0 0', ''];
    for (const uid of bad) {
      const obs = obsOf([proc(1, status('nginx', 0, 0, 0)), proc(2, status('nginx', 1, uid, 33, '33'))], net([listen(80, 11)]));
      expect(capsNeeded(obs, ctx(ROOT)), uid).toBeUndefined();
    }
    expect(capsNeeded(obsOf([proc(2, status('x', 1, 0, 0, 'a b'))]), ctx(ROOT))).toBeUndefined();
    expect(capsNeeded(obsOf([proc(2, 'Name:\tx\nPPid:\t1\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n')]), ctx(ROOT))).toBeUndefined(); // no Groups:
    expect(capsNeeded(obsOf([]), ctx(ROOT))).toBeUndefined();
  });

  it('a ppid loop (not what a kernel shows) claims nothing and ends', () => {
    const obs = obsOf([proc(5, status('a', 6, 0, 0)), proc(6, status('b', 5, 33, 33))]);
    expect(capsNeeded(obs, ctx(ROOT))).toEqual([]);
  });
});

describe('ports', () => {
  const obs = obsOf([proc(7, status('d', 1, 0, 0), [sock(11), sock(12)])], net([listen(80, 11), listen(8080, 12)]));
  it('a port below ip_unprivileged_port_start needs NET_BIND_SERVICE; the boundary moves with the sysctl', () => {
    expect(caps(capsNeeded(obs, ctx(ROOT)))).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(capsNeeded(obs, ctx(ROOT, { unprivilegedPortStart: 80 }))).toEqual([]);
    expect(caps(capsNeeded(obs, ctx(ROOT, { unprivilegedPortStart: 8081 })))).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(capsNeeded(obs, ctx(ROOT, { unprivilegedPortStart: 8081 }))![0]!.why).toBe('listens on tcp port 80; listens on tcp port 8080');
  });
  it('a socket systemd bound and passed in (PID 1 holds it too) needs nothing', () => {
    expect(capsNeeded(obs, ctx(ROOT, { managerSockets: new Set([11]) }))).toEqual([]);
  });
});

describe('startIdentity and parseIds', () => {
  it('reads how systemd starts the unit', () => {
    expect(startIdentity({ User: '', Group: '', DynamicUser: false })).toEqual({ root: true, rootGroup: true });
    expect(startIdentity({ User: null })).toEqual({ root: true, rootGroup: true });
    expect(startIdentity({ User: 'root', Group: 'adm' })).toEqual({ root: true, rootGroup: false });
    expect(startIdentity({ User: 'caddy', Group: '' })).toEqual({ root: false, rootGroup: false });
    expect(startIdentity({ User: '', DynamicUser: true })).toEqual({ root: false, rootGroup: false });
  });
  it('parses Uid:, Gid: and Groups: as the kernel prints them', () => {
    expect(parseIds(status('x', 1, '0\t33\t0\t33', 4, '4 27 '))).toEqual({ uid: [0, 33, 0, 33], gid: [4, 4, 4, 4], groups: [4, 27] });
    expect(parseIds(status('x', 1, 0, 0))).toEqual({ uid: [0, 0, 0, 0], gid: [0, 0, 0, 0], groups: [] });
    expect(parseIds(status('x', 1, 0, '0\t0'))).toBeUndefined();
  });
});
