// Seccomp records from the kernel log: parsing /dev/kmsg records, rejecting what a process wrote to
// /dev/kmsg (the kernel never gives such a record facility 0), attribution to a unit by machine pid
// or executable, and the system call groups the records show (real `systemd-analyze` listings).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeUse, forUnit, groupsUsed, isKill, parseKmsg, parseSeccompRecord, scanWindow, splitKmsg, type SeccompRecord } from '../../src/core/seccompLog.js';
import { SYSCALL_GROUPS } from '../../src/core/syscallFilter.js';
import { parseSyscallFilterListing } from '../../src/core/syscallGroups.js';
import { syscallName } from '../../src/core/syscallNames.js';

// Measured on this project's Debian 12 test machine (postgresql's pg_ctlcluster killed for setgroups).
const REAL =
  '5,13790,48685651858,-;audit: type=1326 audit(1796225963.573:674983): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=24743 ' +
  'comm="pg_ctlcluster" exe="/usr/bin/perl" sig=31 arch=c000003e syscall=116 compat=0 ip=0x7f850eceb074 code=0x80000000\n';

interface Fields {
  seq?: number;
  prio?: number;
  serial?: number;
  pid?: number;
  comm?: string;
  exe?: string;
  sig?: number;
  arch?: string;
  nr?: number;
  code?: number;
  subj?: string;
  time?: string;
}
/** A record as the kernel prints it (values already in audit's encoding). */
function rec(f: Fields = {}): string {
  const subj = f.subj === undefined ? '' : ` subj=${f.subj}`;
  return `${f.prio ?? 5},${f.seq ?? 100},5000000,-;audit: type=1326 audit(${f.time ?? '1700000000.250'}:${f.serial ?? 7}): auid=4294967295 uid=0 gid=0 ses=4294967295${subj} ` +
    `pid=${f.pid ?? 4242} comm=${f.comm ?? '"nginx"'} exe=${f.exe ?? '"/usr/sbin/nginx"'} sig=${f.sig ?? 0} arch=${f.arch ?? 'c000003e'} ` +
    `syscall=${f.nr ?? 105} compat=0 ip=0x7f0000001234 code=0x${(f.code ?? 0x7ffc0000).toString(16)}\n`;
}

/** What devkmsg_write + devkmsg_read make of a buffer a process writes to /dev/kmsg (printk.c):
 * facility LOG_USER unless a "<N>" prefix names a non-zero one; text escaped by msg_add_ext_text. */
function userWrite(buf: string, seq: number): string {
  let level = 4;
  let facility = 1;
  let line = buf;
  const m = /^<(\d*)>/.exec(buf);
  if (m) {
    const u = Number(BigInt(m[1] || '0') & 0xffffffffn); // simple_strtoul into an unsigned int
    level = u & 7;
    if (((u >>> 3) & 0xff) !== 0) facility = (u >>> 3) & 0xff;
    line = buf.slice(m[0].length);
  }
  const text = [...Buffer.from(line, 'utf8')].map((c) => (c < 0x20 || c >= 127 || c === 0x5c ? `\\x${c.toString(16).padStart(2, '0')}` : String.fromCharCode(c))).join('');
  return `${(facility << 3) | level},${seq},1000,-;${text}\n`;
}

const G262 = parseSyscallFilterListing(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'syscall-filter', '262-quiet.txt'), 'utf8'));

const NAMES_TS = join(import.meta.dirname, '..', '..', 'src', 'core', 'syscallNames.ts');
const HEADERS = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';

describe('syscallName', () => {
  it.skipIf(!existsSync(HEADERS))('is what the generator makes of this machine\'s headers', () => {
    const fresh = execFileSync('node', [join(import.meta.dirname, '..', '..', 'scripts', 'gen-syscall-names.mjs')], { encoding: 'utf8' });
    const sources = (t: string) => t.split('\n').filter((l) => l.startsWith('// Sources:')).join();
    // another linux-libc-dev may number newer calls: compare only output of the same headers
    if (sources(fresh) === sources(readFileSync(NAMES_TS, 'utf8'))) expect(fresh).toBe(readFileSync(NAMES_TS, 'utf8'));
  });

  it('names x86_64, i386, aarch64 and x32 calls by number', () => {
    expect(syscallName('c000003e', 105)).toBe('setuid');
    expect(syscallName('c000003e', 116)).toBe('setgroups');
    expect(syscallName('C000003E', 0)).toBe('read');
    expect(syscallName('c000003e', 435)).toBe('clone3');
    expect(syscallName('40000003', 213)).toBe('setuid32');
    expect(syscallName('c00000b7', 146)).toBe('setuid');
    expect(syscallName('c00000b7', 25)).toBe('fcntl'); // __NR3264_fcntl, 64-bit name
    expect(syscallName('c00000b7', 79)).toBe('newfstatat');
    expect(syscallName('c000003e', 0x40000000 + 105)).toBe('setuid'); // x32 ABI
  });

  it('gives undefined for holes, out of range, negative and unknown architectures', () => {
    expect(syscallName('c000003e', 400)).toBeUndefined(); // 335..423 unassigned on x86_64
    expect(syscallName('c000003e', 100_000)).toBeUndefined();
    expect(syscallName('c000003e', -1)).toBeUndefined();
    expect(syscallName('c000003e', 1.5)).toBeUndefined();
    expect(syscallName('c00000b7', 250)).toBeUndefined(); // arch-specific range, none on arm64
    expect(syscallName('deadbeef', 1)).toBeUndefined();
    expect(syscallName('toString', 1)).toBeUndefined();
    expect(syscallName('__proto__', 1)).toBeUndefined();
  });
});

describe('parseKmsg', () => {
  it('reads the header and the text of a real record', () => {
    expect(parseKmsg(REAL)).toMatchObject({ facility: 0, level: 5, seq: 13790, tsUsec: 48685651858, dict: [] });
  });

  it('takes continuation lines as properties and ignores extra header values', () => {
    const k = parseKmsg('6,339,5140900,-,caller=T1;usb 1-1: new device\n SUBSYSTEM=usb\n DEVICE=c189:1\n');
    expect(k).toMatchObject({ facility: 0, level: 6, seq: 339, text: 'usb 1-1: new device', dict: ['SUBSYSTEM=usb', 'DEVICE=c189:1'] });
  });

  it('rejects malformed records', () => {
    for (const bad of [
      '',
      'no header at all\n',
      '5,abc,1,-;text\n', // seq not a number
      '5,-1,1,-;text\n',
      '5,1.5,1,-;text\n',
      '5,99999999999999999,1,-;text\n', // beyond a safe integer
      ',1,1,-;text\n',
      '5,1;text\n', // no timestamp
      '5,1,1,-;line one\nline two\n', // a second line that is no continuation
      `5,1,1,-;${'x'.repeat(20_000)}\n`,
    ]) expect(parseKmsg(bad), bad.slice(0, 40)).toBeUndefined();
  });

  it('splits a dump into records, continuation lines kept with theirs', () => {
    const dump = `${REAL}6,13791,1,-;usb: x\n SUBSYSTEM=usb\n${rec({ seq: 13792 })}`;
    const parts = splitKmsg(dump);
    expect(parts).toHaveLength(3);
    expect(parseKmsg(parts[1]!)?.dict).toEqual(['SUBSYSTEM=usb']);
    expect(parts.map((p) => parseSeccompRecord(p)?.seq)).toEqual([13790, undefined, 13792]);
  });
});

describe('parseSeccompRecord', () => {
  it('parses the real kill record', () => {
    expect(parseSeccompRecord(REAL)).toEqual({
      seq: 13790, pid: 24743, comm: 'pg_ctlcluster', exe: '/usr/bin/perl', syscall: 'setgroups', nr: 116, arch: 'c000003e',
      action: 'kill-process', code: 0x80000000, signal: 31, auditTime: 1796225963573, serial: 674983,
    } satisfies SeccompRecord);
    expect(isKill(parseSeccompRecord(REAL)!)).toBe(true);
  });

  it('maps the filter action from the code', () => {
    const action = (code: number) => parseSeccompRecord(rec({ code }))?.action;
    expect(action(0x80000000)).toBe('kill-process');
    expect(action(0x00000000)).toBe('kill-thread');
    expect(action(0x7ffc0000)).toBe('log');
    expect(action(0x00050001)).toBe('errno');
    expect(action(0x00030000)).toBe('trap');
    expect(action(0x7ff00000)).toBe('other'); // trace
    expect(action(0x7fc00000)).toBe('other'); // user notification
    expect(parseSeccompRecord(rec({ code: 0x00050001 }))!.code & 0xffff).toBe(1);
    expect(isKill(parseSeccompRecord(rec({ code: 0x7ffc0000 }))!)).toBe(false);
  });

  it('rejects a record a process wrote to /dev/kmsg, whatever priority it claims', () => {
    const forged = REAL.slice(REAL.indexOf(';') + 1, -1);
    for (const prefix of ['', '<5>', '<0>', '<13>', '<2048>', '<4294967301>']) {
      const raw = userWrite(prefix + forged, 13790);
      expect(parseKmsg(raw)!.facility).not.toBe(0);
      expect(parseSeccompRecord(raw), prefix).toBeUndefined();
    }
    // the same text with the kernel's facility is accepted: the facility is what decides
    expect(parseSeccompRecord(`5,1,1,-;${forged}\n`)).toBeDefined();
    // facility 1 level 5 and facility 256 (does not fit the kernel's u8) are not the kernel's
    expect(parseSeccompRecord(REAL.replace(/^5,/, '13,'))).toBeUndefined();
    expect(parseSeccompRecord(REAL.replace(/^5,/, '2053,'))).toBeUndefined();
  });

  it('rejects malformed seccomp records', () => {
    for (const bad of [
      rec({ pid: 'x1' as unknown as number }),
      rec({ pid: 12345678901 }),
      rec({ arch: 'c000003g' }),
      rec({ arch: '1c000003e' }),
      rec({ nr: 'read' as unknown as number }),
      rec({ sig: 1234 }),
      rec({ code: 0x1_0000_0000 }), // nine hex digits
      rec({ time: '1700000000' }), // no milliseconds
      rec({ time: '1700000000.5' }),
      rec({ comm: '"ngi"nx"' }),
      rec({ comm: '"nginx' }),
      rec({ comm: '6E67696E7' }), // odd hex
      rec({ exe: '/usr/sbin/nginx' }), // neither quoted nor hex
      rec().replace('type=1326', 'type=1327'),
      rec().replace(' code=', ' code2='),
      rec().replace(/\n$/, ' extra=1\n'),
      rec().replace('audit: ', 'audit:  '),
    ]) expect(parseSeccompRecord(bad), bad).toBeUndefined();
  });

  it('decodes hex-encoded and escaped values; no executable for exe=(null)', () => {
    const hex = (s: string) => Buffer.from(s).toString('hex').toUpperCase();
    const r = parseSeccompRecord(rec({ comm: hex('my worker'), exe: hex('/opt/my app/bin (deleted)') }))!;
    expect(r.comm).toBe('my worker');
    expect(r.exe).toBe('/opt/my app/bin (deleted)');
    expect(parseSeccompRecord(rec({ exe: '"/opt/a\\x5cb"' }))!.exe).toBe('/opt/a\\b');
    expect(parseSeccompRecord(rec({ exe: '(null)' }))!.exe).toBeUndefined();
    expect(parseSeccompRecord(rec({ exe: '<too_long>' }))!.exe).toBeUndefined();
  });

  it('finds the fields from the end, whatever an LSM label before them holds', () => {
    const r = parseSeccompRecord(rec({ subj: 'nginx (enforce) pid=1 comm="init" exe="/sbin/init"', pid: 77 }))!;
    expect(r).toMatchObject({ pid: 77, comm: 'nginx', exe: '/usr/sbin/nginx' });
  });

  it('never throws and never accepts a non-kernel facility (property)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
      expect(() => parseSeccompRecord(s)).not.toThrow();
    }));
    // whatever a process writes, including a copy of a real record with any prefix
    const body = REAL.slice(REAL.indexOf(';') + 1, -1);
    const written = fc.oneof(
      fc.string({ maxLength: 400 }),
      fc.tuple(fc.oneof(fc.constant(''), fc.nat().map((n) => `<${n}>`), fc.bigInt({ min: 0n, max: 1n << 70n }).map((n) => `<${n}>`)), fc.constant(body)).map(([p, b]) => p + b),
      fc.tuple(fc.nat(2047), fc.string({ maxLength: 40 })).map(([p, junk]) => `<${p}>${body}${junk}`),
    );
    fc.assert(fc.property(written, fc.nat(1_000_000), (buf, seq) => {
      expect(parseSeccompRecord(userWrite(buf, seq))).toBeUndefined();
    }));
  });

  it('reads back what the kernel prints (property)', () => {
    const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 15 });
    const quoted = (s: string) => (s.includes('"') ? Buffer.from(s).toString('hex').toUpperCase() : `"${s.replace(/\\/g, '\\x5c')}"`);
    fc.assert(fc.property(
      fc.nat(4_194_304), printable, printable.map((s) => `/${s}`), fc.constantFrom('c000003e', '40000003', 'c00000b7'), fc.nat(460),
      fc.constantFrom(0x80000000, 0, 0x7ffc0000, 0x00050016), fc.nat(2 ** 31), fc.nat(999),
      (pid, comm, exe, arch, nr, code, sec, ms) => {
        const r = parseSeccompRecord(rec({ pid, comm: quoted(comm), exe: quoted(exe), arch, nr, code, time: `${sec}.${String(ms).padStart(3, '0')}` }));
        expect(r).toMatchObject({ pid, comm, exe, arch, nr, code, auditTime: sec * 1000 + ms, syscall: syscallName(arch, nr) });
      },
    ));
  });
});

describe('forUnit', () => {
  const r = (pid: number, exe: string | undefined): SeccompRecord => ({ ...parseSeccompRecord(rec({ pid }))!, exe });
  const records = [r(10, '/usr/sbin/nginx'), r(11, '/usr/bin/perl'), r(12, '/usr/sbin/nginx (deleted)'), r(13, undefined), r(14, '/usr/sbin/nginx-debug')];

  it('matches by machine pid or by executable', () => {
    expect(forUnit(records, { pids: [11] }).map((x) => x.pid)).toEqual([11]);
    expect(forUnit(records, { exes: ['/usr/sbin/nginx'] }).map((x) => x.pid)).toEqual([10, 12]);
    expect(forUnit(records, { pids: new Set([13]), exes: ['/usr/sbin/nginx (deleted)'] }).map((x) => x.pid)).toEqual([10, 12, 13]);
    expect(forUnit(records, {})).toEqual([]);
    expect(forUnit(records, { pids: [99], exes: ['/usr/sbin'] })).toEqual([]);
  });
});

describe('groupsUsed', () => {
  const call = (nr: number, exe = '"/usr/sbin/nginx"', arch = 'c000003e') => parseSeccompRecord(rec({ nr, exe, arch }))!;

  it('names the groups of the recorded calls, with calls and callers (static table)', () => {
    // setuid 105, setgroups 116, setpriority 141, read 0
    const used = groupsUsed([call(105), call(116), call(105, '"/usr/lib/nginx/helper"'), call(141), call(0)], SYSCALL_GROUPS);
    expect(used.map((u) => u.group)).toEqual(['privileged', 'resources']);
    expect(used[0]).toEqual({ group: 'privileged', calls: ['setgroups', 'setuid'], by: ['/usr/lib/nginx/helper', '/usr/sbin/nginx'] });
    expect(describeUse(used[1]!)).toBe('setpriority by /usr/sbin/nginx');
  });

  it('uses the running systemd\'s groups, nested groups expanded (262 listing)', () => {
    expect(G262).toBeDefined();
    // chown (92) is in @chown, which @privileged nests; mount (165) in @mount; i386 setuid32 (213)
    const used = groupsUsed([call(92), call(165), call(213, '"/usr/bin/old"', '40000003')], G262!);
    const by = Object.fromEntries(used.map((u) => [u.group, u.calls]));
    expect(by.chown).toEqual(['chown']);
    expect(by.privileged).toEqual(['chown', 'setuid32']);
    expect(by.mount).toEqual(['mount']);
    expect(by['system-service']).toEqual(expect.arrayContaining(['chown', 'setuid32']));
    expect(by.reboot).toBeUndefined();
  });

  it('counts a call without a name for no group', () => {
    expect(groupsUsed([call(400)], SYSCALL_GROUPS)).toEqual([]);
    expect(groupsUsed([], SYSCALL_GROUPS)).toEqual([]);
  });
});

describe('scanWindow', () => {
  it('keeps the seccomp records after the mark, kernel facility only', () => {
    const raws = [rec({ seq: 9, serial: 1 }), rec({ seq: 10, serial: 2 }), userWrite(rec({ seq: 11 }).split(';')[1]!.trim(), 11), rec({ seq: 12, serial: 3, nr: 116 })];
    const w = scanWindow(raws, 9);
    expect(w.records.map((r) => [r.seq, r.syscall])).toEqual([[10, 'setuid'], [12, 'setgroups']]);
    expect(w.incomplete).toEqual([]);
    expect(w.lastSeq).toBe(12);
    expect(scanWindow(raws, 12)).toEqual({ records: [], incomplete: [], lastSeq: 12 });
  });

  it('says when records of the window were overwritten', () => {
    expect(scanWindow([rec({ seq: 15 })], 9).incomplete).toEqual([expect.stringContaining('5 records')]);
    expect(scanWindow([rec({ seq: 10, serial: 1 }), rec({ seq: 13, serial: 2 })], 9).incomplete).toEqual([expect.stringContaining('2 records')]);
    expect(scanWindow([rec({ seq: 10 })], 9, 1).incomplete).toEqual([expect.stringContaining('overwritten')]);
    expect(scanWindow([rec({ seq: 15 })], -1).incomplete).toEqual([]); // everything was asked for
  });

  it('says when the printk rate limit dropped audit records, from the kernel only', () => {
    const raws = [rec({ seq: 10, serial: 50 }), '4,11,1,-;kauditd_printk_skb: 399 callbacks suppressed\n', rec({ seq: 12, serial: 51 })];
    expect(scanWindow(raws, 9).incomplete).toEqual(['the printk rate limit suppressed 399 audit records']);
    const forged = [rec({ seq: 10, serial: 50 }), userWrite('<4>kauditd_printk_skb: 399 callbacks suppressed', 11), rec({ seq: 12, serial: 51 })];
    expect(scanWindow(forged, 9).incomplete).toEqual([]);
    expect(scanWindow(['4,10,1,-;audit: printk limit exceeded\n'], 9).incomplete).toEqual(['the kernel reported lost audit records']);
  });

  it('counts audit serials missing between those read, in any order', () => {
    const serials = (...s: number[]) => s.map((serial, i) => rec({ seq: 10 + i, serial }));
    expect(scanWindow(serials(50, 52, 51, 51, 53), 9).incomplete).toEqual([]);
    expect(scanWindow(serials(50, 54, 51), 9).incomplete).toEqual(['2 audit records between those read never reached the kernel log']);
  });
});
