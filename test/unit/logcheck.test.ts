import { describe, expect, it } from 'vitest';
import { errnoClasses, errorSignatures, isKnown, isRequestLog, newErrorLines, noiseSignatures } from '../../src/core/logcheck.js';

describe('new errors in the unit logs', () => {
  const baseline = [
    '2026/11/28 10:00:01 [error] 1234#1234: *5 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory)',
    '2026/11/28 10:00:02 [crit] 77#77: connect() to unix:/run/php.sock failed (13: Permission denied)',
  ];
  const known = errorSignatures(baseline);

  it('ignores errors the unit already logged before tuning, whatever their times and pids', () => {
    const again = '2026/11/28 11:30:59 [crit] 4242#4242: connect() to unix:/run/php.sock failed (13: Permission denied)';
    expect(newErrorLines(known, [again])).toEqual([]);
  });

  it('flags an errno-like line the trial added', () => {
    const line = 'caddy: unable to autosave config to /var/lib/caddy/autosave.json: open …: read-only file system';
    expect(newErrorLines(known, ['all good', line])).toEqual([line]);
    expect(newErrorLines(known, ['socket(AF_NETLINK): Address family not supported by protocol'])).toHaveLength(1);
    expect(newErrorLines(known, ['connect() to 10.251.0.2:8080 failed (101: Network is unreachable) while connecting to upstream'])).toHaveLength(1);
    expect(newErrorLines(known, ['autoharden-sample: sometimes-write /etc/x failed: EROFS: read-only file system, open \'/etc/x\''])).toHaveLength(1);
  });

  it('does not flag ordinary lines', () => {
    expect(newErrorLines(known, ['Started nginx.service', 'GET / 200', 'Reloading.'])).toEqual([]);
  });
});

describe('noise: lines of a kind that also show up without the candidate', () => {
  const line = (path: string) => `web: client x open() "${path}" failed (30: Read-only file system)`;

  it('classifies lines by the errno they report, whatever surrounds them', () => {
    expect(errnoClasses('open() "//etc/cron.d/p" failed (30: Read-only file system) (13: Permission denied) EPERM')).toEqual(['erofs', 'eacces', 'eperm']);
    expect(errnoClasses('all good')).toEqual([]);
    expect(errnoClasses(`${'a'.repeat(10_000)} Read-only file system`)).toEqual([]); // judged on a bounded prefix
  });

  it('makes every later line of a learned kind from the same source known, and no other', () => {
    const known = noiseSignatures([line('/etc/a')]);
    expect(isKnown(known, line('/etc/completely/different'))).toBe(true);
    expect(isKnown(known, 'web: socket(AF_NETLINK): Address family not supported by protocol')).toBe(false);
    // the same kind from another log file is another source
    expect(isKnown(known, `/var/log/web/error.log: ${line('/etc/a')}`)).toBe(false);
    // a line reporting two kinds is noise only when both are
    expect(isKnown(known, 'web: x: Read-only file system; Operation not permitted')).toBe(false);
    expect(newErrorLines(known, [line('/x'), 'web: bind: Permission denied'])).toEqual(['web: bind: Permission denied']);
  });

  it('never treats request logs as evidence', () => {
    expect(isRequestLog('/var/log/nginx/access.log')).toBe(true);
    expect(isRequestLog('/var/log/autoharden-sample/access.log')).toBe(true);
    expect(isRequestLog('/var/log/nginx/error.log')).toBe(false);
  });
});
