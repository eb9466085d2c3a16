// Issue 9 item 3: whatever paths the service's lines name and wherever symlinks lead, a learned
// ReadWritePaths= entry is normalised and inside the unit's own scope. The oracle below is written
// out independently of core/paths.ts.
import { posix } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { erofsDirs } from '../../src/core/learn.js';
import { normalisePath, scopeRoots, writableRoots, writableScope, type WritableScope } from '../../src/core/paths.js';

const SEGMENTS = ['', '.', '..', 'etc', 'cron.d', 'var', 'lib', 'log', 'cache', 'spool', 'run', 'private', 'systemd', 'system',
  'cron', 'crontabs', 'root', 'home', 'usr', 'bin', 'lib64', 'boot', 'tmp', 'NAME', 'nginx', 'www-data', 'x.pid', 'autoharden',
  '%2e%2e', '%h', 'a b', 'a\tb', 'a\u0000b', 'a\nb', '\u00e9', 'a\\b'];
const NAMES = ['NAME', 'nginx', 'redis', 'www-data', 'systemd', 'cron', 'root', 'etc', 'private', 'autoharden', 'lib', '..', '.', '', 'a/b', 'x y'];

const segment = fc.constantFrom(...SEGMENTS);
const rawPath = fc.tuple(fc.constantFrom('/', '//', '/./', '', './'), fc.array(segment, { maxLength: 8 }), fc.constantFrom('', '/', '/.', '/..'))
  .map(([head, segs, tail]) => `${head}${segs.join('/')}${tail}`);
// Mostly paths that start where a unit's state lives (or where it must not), then anything.
const PREFIXES = ['/var/lib/NAME', '/var/log/nginx', '/var/cache/www-data', '/var/spool/NAME', '/run/NAME', '/var/lib/private/NAME',
  '/var/lib', '/var/spool/cron', '/run/systemd', '/var/lib/systemd', '/etc', '/root', '//var/lib/NAME', '/var/./lib/NAME'];
const pathArb = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...PREFIXES), fc.array(segment, { maxLength: 4 })).map(([p, segs]) => [p, ...segs].join('/')) },
  { weight: 1, arbitrary: rawPath },
);
const scopeArb: fc.Arbitrary<WritableScope> = fc.record({
  names: fc.subarray(NAMES),
  directories: fc.array(pathArb, { maxLength: 3 }),
});
const templates = fc.constantFrom(
  (p: string) => `EROFS: read-only file system, open '${p}'`,
  (p: string) => `x open() "${p}" failed (30: Read-only file system) (13: Permission denied) EPERM`,
  (p: string) => `/var/log/nginx/error.log: mkdir() "${p}" failed (30: Read-only file system)`,
  (p: string) => `cannot create ${p}: Read-only file system`,
);

// The rules, restated: never these trees, and only a base's direct child named after the
// unit (or its DynamicUser twin), or a directory systemd manages for it.
const NEVER = ['/etc', '/usr', '/boot', '/root', '/home', '/run/systemd', '/var/spool/cron', '/var/lib/systemd', '/bin', '/sbin', '/lib', '/lib64'];
const under = (p: string, root: string) => p === root || p.startsWith(`${root}/`);
function allowed(p: string, scope: WritableScope): boolean {
  if (NEVER.some((n) => under(p, n))) return false;
  const m = /^\/(var\/(?:lib|log|cache|spool)|run)\/(?:private\/)?([^/]+)$/.exec(p);
  if (m && scope.names.includes(m[2]!)) return true;
  return scope.directories.some((d) => {
    const n = posix.normalize(d).replace(/(.)\/+$/, '$1');
    return !NEVER.some((x) => under(n, x)) && (p === n || p === n.replace(/^\/var\/(lib|log|cache)\//, '/var/$1/private/'));
  });
}
const clean = (p: string) => !/\/\/|\/\.\/|\/\.\.(\/|$)|\/\.$/.test(p) && p.startsWith('/') && !/[\s%\\\u0000-\u001f]/.test(p);

describe('normalisePath', () => {
  it('agrees with posix.normalize on clean absolute paths, and refuses the rest', () => {
    fc.assert(fc.property(rawPath, (raw) => {
      const n = normalisePath(raw);
      const plain = raw.startsWith('/') && !/[\s%\\\u0000-\u001f\u0080-\uffff]/.test(raw);
      if (!plain) {
        expect(n).toBeUndefined();
        return;
      }
      expect(n).toBe(posix.normalize(raw).replace(/(.)\/+$/, '$1'));
      expect(clean(n!)).toBe(true);
      expect(normalisePath(n!)).toBe(n);
    }), { numRuns: 2000 });
  });

  it.each([
    ['//etc/cron.d/p', '/etc/cron.d/p'], ['/./etc/cron.d/p', '/etc/cron.d/p'], ['/var/lib/nginx/../../../etc/x', '/etc/x'],
    ['/..', '/'], ['/a//b/./c/', '/a/b/c'],
  ])('%j → %j', (raw, want) => expect(normalisePath(raw)).toBe(want));

  it.each(['', 'etc/x', './x', '/a b', '/a\tb', '/a\nb', '/a\u0000b', '/x%h', '/x\\y', '/x"y', "/x'y"])('refuses %j', (raw) => {
    expect(normalisePath(raw)).toBeUndefined();
  });
});

describe('the writable scope', () => {
  it('names a unit by itself, its first word, its template and its user, never root or systemd', () => {
    expect(writableScope('redis-server.service', { User: 'redis' }).names).toEqual(['redis-server', 'redis']);
    expect(writableScope('nginx.service', { User: '' }).names).toEqual(['nginx']);
    expect(writableScope('openvpn-client@work.service', { User: 'root' }).names).toEqual(['openvpn-client@work', 'openvpn-client', 'openvpn']);
    expect(writableScope('systemd-foo.service', { User: 'nobody' }).names).toEqual(['systemd-foo']);
    expect(writableScope('ab-c.service', {}).names).toEqual(['ab-c']); // "ab": too short to be its own
    expect(writableScope('x.service', { StateDirectory: ['x', 'y/z', '../../etc', '/abs'], LogsDirectory: ['x'], RuntimeDirectory: ['x'], CacheDirectory: 'x' }).directories)
      .toEqual(['/var/lib/x', '/var/lib/y/z', '/etc', '/var/log/x', '/run/x']);
  });

  it('never opens the trees the issue names, whatever the names and directories say', () => {
    const s = { names: ['systemd', 'cron', 'root', 'autoharden', 'private', 'etc'], directories: ['/etc', '/var/lib/systemd/x', '/run/systemd', '/var/spool/cron', '/var/lib', '/run', '/'] };
    expect(scopeRoots(s).sort()).toEqual(['/var/lib/cron', '/var/log/cron', '/var/cache/cron', '/run/cron', '/var/lib/private/cron', '/var/log/private/cron', '/var/cache/private/cron',
      '/var/lib/etc', '/var/log/etc', '/var/cache/etc', '/var/spool/etc', '/run/etc', '/var/lib/private/etc', '/var/log/private/etc', '/var/cache/private/etc'].sort());
  });

  it('seeds only observed directories inside the scope, as their scope roots', () => {
    const s = writableScope('nginx.service', { User: 'www-data' });
    expect(writableRoots(['/var/log/nginx', '/var/lib/nginx/body', '/etc/nginx', '/tmp', '/var/log', '/root', '/var/lib/www-data/x'], s))
      .toEqual(['/var/lib/nginx', '/var/lib/www-data', '/var/log/nginx']);
  });
});

describe('learned paths from hostile lines (property)', () => {
  it('are normalised and inside the allow-list, wherever symlinks lead', () => {
    // a symlink-ish file system: a path resolves to itself, to nowhere, or anywhere at all
    const links = fc.func(fc.oneof(fc.constant('same'), fc.constant(undefined), pathArb));
    let learned = 0;
    fc.assert(fc.property(scopeArb, fc.array(fc.tuple(templates, pathArb), { maxLength: 6 }), links, fc.func(fc.boolean()), (scope, lines, link, isDir) => {
      const realDir = (p: string) => {
        const to = link(p);
        return to === 'same' ? p : to;
      };
      const out = erofsDirs(lines.map(([t, p]) => t(p)), { scope, realDir, isDir });
      learned += out.length;
      for (const p of out) {
        expect(clean(p)).toBe(true);
        expect(allowed(p, scope)).toBe(true);
      }
    }), { numRuns: 3000 });
    expect(learned).toBeGreaterThan(100); // the property saw paths that were learned, not only refusals
  });

  it('learn nothing from the bypasses the issue measured, for any scope and any file system', () => {
    const bypasses = ['//etc/cron.d/p', '/./etc/cron.d/p', '/var/lib/nginx/../../../etc/x', '/bin/x', '/lib64/x', '/root/x', '/var/spool/cron/x', '/run/systemd/system/x'];
    fc.assert(fc.property(scopeArb, templates, fc.constantFrom(...bypasses), fc.boolean(), (scope, t, p, dir) => {
      const names = { ...scope, names: [...scope.names, 'nginx', 'cron', 'systemd', 'root', 'etc', 'bin', 'lib64'] };
      expect(erofsDirs([t(p)], { scope: names, realDir: (x) => x, isDir: () => dir })).toEqual([]);
    }), { numRuns: 500 });
  });
});
