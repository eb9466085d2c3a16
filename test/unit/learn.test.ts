import { describe, expect, it } from 'vitest';
import { addedPaths, erofsDirs, learnFromFailure, withWritablePaths, withoutPaths, type LearnContext } from '../../src/core/learn.js';
import { writableScope, type WritableScope } from '../../src/core/paths.js';
import type { Rung } from '../../src/core/types.js';

const scope = (...names: string[]): WritableScope => ({ names, directories: [] });
const ctx = (s: WritableScope, extra: Partial<LearnContext> = {}): LearnContext => ({ scope: s, ...extra });

describe('learned ReadWritePaths', () => {
  it('finds the directories of paths in read-only-file-system errors, not in other lines', () => {
    expect(erofsDirs([
      "Error: EROFS: read-only file system, open '/var/lib/autoharden-sample/counter.tmp'",
      'nginx: [emerg] open() "/run/nginx.pid" failed (30: Read-only file system)',
      '/var/log/nginx/error.log: 2026/11/28 10:00:00 [emerg] mkdir() "/var/lib/nginx/body" failed (30: Read-only file system)',
      'open() "/var/cache/x/y" failed (13: Permission denied)',
    ], ctx(scope('autoharden-sample', 'nginx')))).toEqual(['/var/lib/autoharden-sample', '/var/lib/nginx']);
  });

  it('keeps an existing directory named by a failed mkdir instead of opening its parent', () => {
    const line = "Error: EROFS: read-only file system, mkdir '/var/lib/autoharden-sample'";
    const c = ctx(scope('autoharden-sample'));
    expect(erofsDirs([line], { ...c, isDir: (p) => p === '/var/lib/autoharden-sample' })).toEqual(['/var/lib/autoharden-sample']);
    expect(erofsDirs([line], c)).toEqual([]); // its parent /var/lib is a whole tree: never learned
  });

  it('never learns system directories or whole trees', () => {
    const lines = ['EROFS: read-only file system, open "/etc/foo.conf"', "EROFS: read-only file system, mkdir '/var/x'", 'x "/usr/lib/a/b" Read-only file system'];
    expect(erofsDirs(lines, ctx(scope('x', 'foo', 'lib'), { isDir: () => true }))).toEqual([]);
  });

  it('extends a strict trial by what its failure names, and stops when nothing is new', () => {
    const strict = { option: 'ProtectSystem', value: 'strict', lines: ['ProtectSystem=strict'] };
    const other = { option: 'PrivateTmp', value: 'yes', lines: ['PrivateTmp=yes'] };
    const ev = ["EROFS: read-only file system, open '/var/lib/app/state.tmp'"];
    const c = ctx(scope('app'));
    const next = learnFromFailure([other, strict], ev, c)!;
    expect(next[0]).toBe(other);
    expect(next[1]!.value).toBe('strict; ReadWritePaths=-/var/lib/app');
    expect(next[1]!.lines).toEqual(['ProtectSystem=strict', 'ReadWritePaths=-/var/lib/app']);
    expect(learnFromFailure(next, ev, c)).toBeUndefined();
    expect(learnFromFailure([other], ev, c)).toBeUndefined();
    expect(learnFromFailure([other, strict], ev, ctx(scope('other')))).toBeUndefined(); // not its own
    expect(addedPaths([other, strict], next)).toEqual(['/var/lib/app']);
    expect(next[1]!.paths).toEqual(['/var/lib/app']);
    expect(next[1]!.rung).toBe('strict');
  });

  it('seeds a rung without changing what is in force for it', () => {
    const rung: Rung = { value: 'strict', lines: ['ProtectSystem=strict'], residual: 0, inForce: () => true };
    const seeded = withWritablePaths(rung, ['/var/log/nginx', '/run/nginx']);
    expect(seeded.lines).toEqual(['ProtectSystem=strict', 'ReadWritePaths=-/run/nginx -/var/log/nginx']);
    expect(seeded.inForce({})).toBe(true);
    expect(withWritablePaths(rung, [])).toBe(rung);
  });

  it('drops learned directories from strict and keeps the value format', () => {
    const rung: Rung = { value: 'strict', lines: ['ProtectSystem=strict'], residual: 0, inForce: () => true };
    const two = withWritablePaths(rung, ['/var/lib/a', '/var/log/a']);
    const s = [{ option: 'ProtectSystem', value: two.value, lines: two.lines, rung: two.rung, paths: two.paths }];
    expect(withoutPaths(s, ['/var/lib/a'])[0]).toEqual({
      option: 'ProtectSystem', value: 'strict; ReadWritePaths=-/var/log/a', lines: ['ProtectSystem=strict', 'ReadWritePaths=-/var/log/a'], rung: 'strict', paths: ['/var/log/a'],
    });
    expect(withoutPaths(s, ['/var/lib/a', '/var/log/a'])[0]).toEqual({ option: 'ProtectSystem', value: 'strict', lines: ['ProtectSystem=strict'] });
    expect(addedPaths(withoutPaths(s, ['/var/lib/a']), s)).toEqual(['/var/lib/a']);
  });
});

// Issue 9 item 3: the lines are written by the service and its clients (nginx logs a request's
// Referer next to its errors), so every path in them is hostile input.
describe('learned ReadWritePaths under hostile log lines', () => {
  const nginx = writableScope('nginx.service', { User: 'www-data', StateDirectory: [], LogsDirectory: null });
  const erofs = (p: string) => `x open() "${p}" failed (30: Read-only file system) (13: Permission denied) EPERM`;

  it.each([
    '//etc/cron.d/p', '/./etc/cron.d/p', '/var/lib/nginx/../../../etc/x', '/var/lib/nginx/../../../etc/cron.d/p', '/bin/x', '/lib64/x',
    '/root/x', '/root/.ssh/authorized_keys', '/var/spool/cron/x', '/var/spool/cron/crontabs/root', '/run/systemd/system/x', '/run/systemd/system/x.service',
    '/var/lib/systemd/x', '/var/lib/autoharden/x', '/home/u/.bashrc', '/usr/lib/x', '/boot/x', '/var/lib/x', '/run/x.pid', '/var/lib/nginx%2f../../etc/x',
    '/var/lib/nginx/\u0000/x', '/var/lib/nginx\u0007/x',
  ])('learns nothing from %j', (p) => {
    expect(erofsDirs([erofs(p)], ctx(nginx, { isDir: () => true, realDir: (x) => x }))).toEqual([]);
  });

  it('learns its own directories, collapsed to the directory its name allows', () => {
    const c = ctx(nginx, { realDir: (x) => x });
    expect(erofsDirs([erofs('/var/lib/nginx/body/0000001')], c)).toEqual(['/var/lib/nginx']);
    expect(erofsDirs([erofs('//var/log/./nginx//error.log')], c)).toEqual(['/var/log/nginx']);
    expect(erofsDirs([erofs('/var/cache/www-data/x')], c)).toEqual(['/var/cache/www-data']); // User=
    expect(erofsDirs([erofs('/var/spool/nginx/x'), erofs('/run/nginx/nginx.pid')], c)).toEqual(['/run/nginx', '/var/spool/nginx']);
  });

  it('judges a path by where its symlinks lead, and touches the file system only inside the scope', () => {
    const asked: string[] = [];
    const links: Record<string, string> = { '/var/lib/nginx': '/etc', '/var/log/nginx': '/var/log/nginx', '/var/cache/nginx': '/var/lib/private/nginx' };
    const realDir = (p: string) => {
      asked.push(p);
      return links[p] ?? (p.startsWith('/var/log/nginx/evil') ? '/etc/cron.d' : undefined);
    };
    const c = ctx(nginx, { realDir, isDir: (p) => (asked.push(p), false) });
    expect(erofsDirs([erofs('/var/lib/nginx/x'), erofs('/var/lib/nginx/new/x')], c)).toEqual([]); // the root leads to /etc
    expect(erofsDirs([erofs('/var/log/nginx/evil/x')], c)).toEqual([]); // a subdirectory leads to /etc/cron.d
    expect(erofsDirs([erofs('/var/cache/nginx/x')], c)).toEqual(['/var/lib/private/nginx']); // DynamicUser= layout
    asked.length = 0;
    erofsDirs([erofs('/etc/cron.d/p'), erofs('//etc/x'), erofs('/srv/x/y'), erofs('/proc/self/x')], c);
    expect(asked).toEqual([]);
  });

  it('refuses a realDir answer that is relative or not a clean path', () => {
    for (const answer of ['etc', '/var/lib/nginx x', '/var/lib/ngi%nx', '']) {
      expect(erofsDirs([erofs('/var/lib/nginx/x')], ctx(nginx, { realDir: () => answer }))).toEqual([]);
    }
  });
});
