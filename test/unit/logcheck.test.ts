import { describe, expect, it } from 'vitest';
import { errorSignatures, newErrorLines } from '../../src/core/logcheck.js';

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
