import { describe, expect, it } from 'vitest';
import { baseValue, erofsDirs, learnFromFailure, pathsOf, withWritablePaths } from '../../src/core/learn.js';

describe('learned ReadWritePaths', () => {
  it('finds the directories of paths in read-only-file-system errors, not in other lines', () => {
    expect(erofsDirs([
      "Error: EROFS: read-only file system, open '/var/lib/autoharden-sample/counter.tmp'",
      'nginx: [emerg] open() "/run/nginx.pid" failed (30: Read-only file system)',
      '/var/log/nginx/error.log: 2026/11/28 10:00:00 [emerg] mkdir() "/var/lib/nginx/body" failed (30: Read-only file system)',
      'open() "/var/cache/x/y" failed (13: Permission denied)',
    ])).toEqual(['/var/lib/autoharden-sample', '/var/lib/nginx']);
  });

  it('keeps an existing directory named by a failed mkdir instead of opening its parent', () => {
    const line = "Error: EROFS: read-only file system, mkdir '/var/lib/autoharden-sample'";
    expect(erofsDirs([line], (p) => p === '/var/lib/autoharden-sample')).toEqual(['/var/lib/autoharden-sample']);
    expect(erofsDirs([line])).toEqual([]); // its parent /var/lib is a whole tree: never learned
  });

  it('never learns system directories or whole trees', () => {
    expect(erofsDirs(['EROFS: read-only file system, open "/etc/foo.conf"', "EROFS: read-only file system, mkdir '/var/x'", 'x "/usr/lib/a/b" Read-only file system'])).toEqual([]);
  });

  it('extends a strict trial by what its failure names, and stops when nothing is new', () => {
    const strict = { option: 'ProtectSystem', value: 'strict', lines: ['ProtectSystem=strict'] };
    const other = { option: 'PrivateTmp', value: 'yes', lines: ['PrivateTmp=yes'] };
    const ev = ["EROFS: read-only file system, open '/var/lib/app/state.tmp'"];
    const next = learnFromFailure([other, strict], ev)!;
    expect(next[0]).toBe(other);
    expect(next[1]!.value).toBe('strict; ReadWritePaths=-/var/lib/app');
    expect(next[1]!.lines).toEqual(['ProtectSystem=strict', 'ReadWritePaths=-/var/lib/app']);
    expect(learnFromFailure(next, ev)).toBeUndefined();
    expect(learnFromFailure([other], ev)).toBeUndefined();
    expect(pathsOf(next[1]!.value)).toEqual(['/var/lib/app']);
    expect(baseValue(next[1]!.value)).toBe('strict');
  });

  it('seeds a rung without changing what is in force for it', () => {
    const rung = { value: 'strict', lines: ['ProtectSystem=strict'], residual: 0, inForce: () => true };
    const seeded = withWritablePaths(rung, ['/var/log/nginx', '/run/nginx']);
    expect(seeded.lines).toEqual(['ProtectSystem=strict', 'ReadWritePaths=-/run/nginx -/var/log/nginx']);
    expect(seeded.inForce({})).toBe(true);
    expect(withWritablePaths(rung, [])).toBe(rung);
  });
});
