// No directive injection (issue 9, item 4): every value that reaches a drop-in is canonical, and
// nothing a user or a journal record supplies can add, split or swallow a directive. Property tests
// over CIDRs, drop-in lines, unit names and journal records, plus the issue's own attack string.
import fc from 'fast-check';
import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { formatAddress } from '../../src/adapters/systemd.js';
import { TUNE } from '../../src/app/tune.js';
import { workloadText } from '../../src/cli/common.js';
import { CATALOG } from '../../src/core/catalog.js';
import { parseCidr } from '../../src/core/cidr.js';
import { DIRECTIVE_KEYS, lineProblem } from '../../src/core/directives.js';
import { renderDropIn } from '../../src/core/dropin.js';
import { AutohardenError, EXIT_CODES } from '../../src/core/errors.js';
import { acceptedSet, recordSchema, type JournalRecord } from '../../src/core/journal.js';
import { applySafetyPolicy, NO_DECLARATIONS, type SafetyFacts } from '../../src/core/policy.js';
import { parseProbeSpec } from '../../src/core/probeSpec.js';
import type { Setting } from '../../src/core/types.js';
import { parseUnitName } from '../../src/core/unitName.js';
import { parseEnrollSpec } from '../../src/daemon/spec.js';
import type { Ports } from '../../src/engine/ports.js';
import { recoverUnit } from '../../src/engine/recover.js';

/** --allow-net as tune's request schema parses it (enroll's spec has its own test below). */
const parseAllowNet = (allowNet: string[]) => TUNE.parse({ unit: 'x.service', allowNet }).allowNet;

const ATTACK = '10.0.0.0/8/x\nExecStartPre=+/usr/bin/touch /etc/x';

/** The error fn throws: an AutohardenError with this code and a one-line message. */
function refused(fn: () => unknown, code: AutohardenError['code']): AutohardenError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(AutohardenError);
  const e = err as AutohardenError;
  expect(e.code).toBe(code);
  expect(e.message.split(/\r\n|\r|\n|\u2028|\u2029|\u0085/)).toHaveLength(1);
  return e;
}

// What may not appear in a value: line breaks of every reader, NUL, other controls, specifiers.
const FORBIDDEN = ['\n', '\r', '\0', '\t', '\x1b', '\x7f', '\x85', '\u2028', '\u2029', '%'];
const forbidden = fc.constantFrom(...FORBIDDEN);
/** Strings mixing the dangerous characters with harmless ones. */
const tricky = fc.string({
  unit: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...FORBIDDEN, '\\', '"', "'", '=', '#', ';', '[', ']', ' ', '/', 'E', 'x') },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' }) },
  ),
  maxLength: 24,
});
/** Inserts one forbidden character at some position of a string. */
const withForbidden = (base: fc.Arbitrary<string>) =>
  fc.tuple(base, forbidden, fc.nat()).map(([s, c, i]) => `${s.slice(0, i % (s.length + 1))}${c}${s.slice(i % (s.length + 1))}`);

// ---------------------------------------------------------------------------------------------
// CIDRs

const v4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 }));
const v6 = fc.tuple(
  fc.ipV6().chain((a) => fc.boolean().map((up) => (up ? a.toUpperCase() : a))),
  fc.integer({ min: 0, max: 128 }),
);

/** 16 bytes of an IPv6 address, by way of the WHATWG URL parser (an oracle independent of ours). */
function v6BytesOracle(a: string): Buffer {
  const h = new URL(`http://[${a}]/`).hostname.slice(1, -1); // lowercase hex groups, at most one "::"
  const [head = '', tail] = h.split('::');
  const g = (s: string) => (s ? s.split(':') : []);
  const groups = tail === undefined ? g(head) : [...g(head), ...new Array(8 - g(head).length - g(tail).length).fill('0'), ...g(tail)];
  let n = 0n;
  for (const x of groups) n = (n << 16n) | BigInt(Number.parseInt(x, 16));
  return Buffer.from(n.toString(16).padStart(32, '0'), 'hex');
}

function maskBuf(b: Buffer, prefix: number): Buffer {
  return Buffer.from([...b].map((x, i) => x & ((0xff << (8 - Math.max(0, Math.min(8, prefix - i * 8)))) & 0xff)));
}

describe('CIDRs', () => {
  it('refuses the issue\'s attack string on the CLI path and in the enrollment spec, one line, Usage', () => {
    expect(refused(() => parseAllowNet([ATTACK]), 'Usage').message).toMatch(/bad --allow-net/);
    expect(refused(() => parseAllowNet(['10.0.0.0/8', ATTACK]), 'Usage').message).toContain('\\nExecStartPre'); // quoted, escaped
    const e = refused(() => parseEnrollSpec({ unit: 'nginx', allowNet: [ATTACK] }), 'Usage');
    expect(e.message).toMatch(/allowNet\[0\]: bad --allow-net/);
    refused(() => parseEnrollSpec(JSON.stringify({ unit: 'nginx', allowNet: ['10.0.0.0/8', ATTACK] })), 'Usage');
    expect(EXIT_CODES.Usage).toBe(2);
  });

  it('re-prints what it accepts: masked, compressed, lowercase, always with a prefix', () => {
    expect(parseAllowNet(['10.1.2.3/8', '10.0.0.1', '2001:DB8:0:0:0:0:0:1/32', '::FFFF:1.2.3.4', 'fe80::1:0:0:0:1/64', '1:0:0:2:0:0:0:3']))
      .toEqual(['10.0.0.0/8', '10.0.0.1/32', '2001:db8::/32', '::ffff:1.2.3.4/128', 'fe80:0:0:1::/64', '1:0:0:2::3/128']);
    expect(parseAllowNet(['10.0.0.0/8', '10.9.9.9/8'])).toEqual(['10.0.0.0/8']);
    expect(parseEnrollSpec({ unit: 'x', allowNet: ['10.1.2.3/8', '2001:DB8::1/32'] }).allowNet).toEqual(['10.0.0.0/8', '2001:db8::/32']);
    expect(parseCidr('0.0.0.0/0')).toEqual({ address: '0.0.0.0', prefix: 0, family: 'ipv4', cidr: '0.0.0.0/0' });
  });

  it.each([
    '', '/', '/8', '10.0.0.0/', '10.0.0.0//8', '10.0.0.0/8/', '10.0.0.0/8/8', '10.0.0.0/+8', '+10.0.0.0/8', '10.0.0.0/-1',
    '10.0.0.0/33', '::/129', '10.0.0.0/ 8', ' 10.0.0.0/8', '10.0.0.0/8 ', '10.0.0.0/8\n', '10.0.0.0/0x8', '10.0.0.0/8.0',
    '10.0.0.0/1e1', '010.0.0.1', '10.0.0', 'fe80::1%eth0', 'fe80::1%2/64', 'localhost', 'any', '10.0.0.0,10.1.0.0',
    '10.0.0.0/8 ExecStartPre=x', '::1/128\r', '10.0.0.0/8\u2028',
  ])('refuses %j', (raw) => {
    refused(() => parseCidr(raw), 'Usage');
    refused(() => parseEnrollSpec({ unit: 'x', allowNet: [raw] }), 'Usage');
  });

  it('IPv4: the canonical form is the masked network, covers the address typed, and parses to itself', () => {
    fc.assert(
      fc.property(v4, ([a, p]) => {
        const c = parseCidr(`${a}/${p}`);
        const n = a.split('.').reduce((x, o) => x * 256 + Number(o), 0);
        const masked = p === 0 ? 0 : n - (n % 2 ** (32 - p));
        expect(c.address).toBe([24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256).join('.'));
        expect(c.cidr).toBe(`${c.address}/${p}`);
        expect(parseCidr(c.cidr)).toEqual(c);
        const list = new BlockList();
        list.addSubnet(c.address, p, 'ipv4');
        expect(list.check(a, 'ipv4')).toBe(true);
      }),
    );
  });

  it('IPv6: canonical as systemd\'s addresses are read back (formatAddress), covers the address typed, parses to itself', () => {
    fc.assert(
      fc.property(v6, ([a, p]) => {
        const c = parseCidr(`${a}/${p}`);
        expect(c.address).toBe(formatAddress(10, maskBuf(v6BytesOracle(a), p)));
        expect(c.address).toBe(c.address.toLowerCase());
        expect(parseCidr(c.cidr)).toEqual(c);
        const list = new BlockList();
        list.addSubnet(c.address, p, 'ipv6');
        expect(list.check(a, 'ipv6')).toBe(true);
      }),
    );
  });

  it('refuses any CIDR with a control character or % anywhere, or with text after it', () => {
    const valid = fc.oneof(v4, v6).map(([a, p]) => `${a}/${p}`);
    fc.assert(fc.property(withForbidden(valid), (raw) => void refused(() => parseCidr(raw), 'Usage')));
    // a tail that starts with a character no address or prefix has, or a second "/PREFIX"
    const tail = fc.tuple(fc.constantFrom(' ', '/', ',', '\n', 'x', '-', '+', '%', '#'), fc.string({ maxLength: 12 })).map(([c, s]) => c + s);
    fc.assert(fc.property(valid, tail, (c, t) => void refused(() => parseCidr(c + t), 'Usage')));
    fc.assert(fc.property(valid, fc.nat({ max: 128 }), (c, p) => void refused(() => parseCidr(`${c}/${p}`), 'Usage')));
  });

  it('the IP rung writes the canonical text, never the declaration as typed', () => {
    const facts: SafetyFacts = { usesInet: true, inetEndpoints: [], nonLoopbackListeners: [], families: [], peers: [], sessionEvidence: [], createdModes: [] };
    const spec = CATALOG.find((o) => o.name === 'IPAddressDeny')!;
    const d = applySafetyPolicy(spec, spec.ladder, facts, { ...NO_DECLARATIONS, allowNet: ['10.1.2.3/8', '2001:DB8::1/32'] });
    expect('rungs' in d && d.rungs[0]!.lines).toEqual(['IPAddressDeny=any', 'IPAddressAllow=localhost', 'IPAddressAllow=10.0.0.0/8 2001:db8::/32']);
    // a declaration that slipped past parsing is refused, not written
    refused(() => applySafetyPolicy(spec, spec.ladder, facts, { ...NO_DECLARATIONS, allowNet: [ATTACK] }), 'Usage');
  });
});

// ---------------------------------------------------------------------------------------------
// Drop-in lines

/** The directives systemd would read from a drop-in (src/shared/conf-parser.c, simplified): lines
 * end at LF, CR or NUL; comment lines are skipped even inside a continuation; a trailing backslash
 * joins the next line. */
function systemdDirectives(text: string): string[] {
  const out: string[] = [];
  let cont: string | undefined;
  for (const raw of text.split(/\r\n|\n|\r|\0/)) {
    const l = raw.trimStart();
    if (l.startsWith('#') || l.startsWith(';')) continue;
    const line = cont === undefined ? raw : cont + raw;
    if (/(?:^|[^\\])(?:\\\\)*\\$/.test(line)) {
      cont = `${line.slice(0, -1)} `;
      continue;
    }
    cont = undefined;
    const t = line.trim();
    if (t && !t.startsWith('[')) out.push(t);
  }
  if (cont !== undefined && cont.trim()) out.push(cont.trim());
  return out;
}

const catalogLines = CATALOG.flatMap((o) => o.ladder.flatMap((r) => r.lines));
const keys = [...DIRECTIVE_KEYS];
const line = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...catalogLines) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...keys), tricky).map(([k, v]) => `${k}=${v}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('ExecStartPre', 'User', 'ProtectSystem ', ' PrivateTmp', 'X'), tricky).map(([k, v]) => `${k}=${v}`) },
  { weight: 1, arbitrary: tricky },
);
const setting: fc.Arbitrary<Setting> = fc.record({
  option: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...CATALOG.map((o) => o.name)) }, { weight: 1, arbitrary: tricky }),
  value: fc.oneof({ weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9 ~@-]{0,12}$/) }, { weight: 1, arbitrary: tricky }),
  lines: fc.array(line, { maxLength: 3 }),
});

describe('drop-in lines', () => {
  it('every rung of the catalog renders, and every key it writes is allowed', () => {
    for (const o of CATALOG) {
      for (const r of o.ladder) {
        expect(() => renderDropIn('x.service', [{ option: o.name, value: r.value, lines: r.lines }], 'trial')).not.toThrow();
      }
    }
    expect(DIRECTIVE_KEYS.has('ReadWritePaths')).toBe(true);
    expect(DIRECTIVE_KEYS.has('IPAddressAllow')).toBe(true);
    for (const k of ['ExecStartPre', 'ExecStart', 'User', 'Environment', 'BindPaths', '']) expect(DIRECTIVE_KEYS.has(k)).toBe(false);
  });

  it('a rendered drop-in holds exactly the settings\' lines as systemd reads them, or is refused (Config)', () => {
    let rendered = 0;
    fc.assert(
      fc.property(fc.array(setting, { maxLength: 4 }), (settings) => {
        let text: string;
        try {
          text = renderDropIn('nginx.service', settings, 'accepted');
        } catch (e) {
          expect(e).toBeInstanceOf(AutohardenError);
          expect((e as AutohardenError).code).toBe('Config');
          expect((e as Error).message.split(/\r\n|\r|\n|\u2028|\u2029|\u0085/)).toHaveLength(1);
          return;
        }
        rendered++;
        const want = settings.flatMap((s) => s.lines);
        // header (5) + a comment per setting + its lines + the final newline
        expect(text.split('\n')).toHaveLength(5 + settings.length + want.length + 1);
        expect(systemdDirectives(text)).toEqual(want);
        for (const l of text.split('\n')) {
          if (l === '' || l.startsWith('#') || l === '[Service]') continue;
          expect(DIRECTIVE_KEYS.has(l.slice(0, l.indexOf('=')))).toBe(true);
          expect(l).not.toMatch(/[%\\\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
        }
      }),
      { numRuns: 500 },
    );
    expect(rendered).toBeGreaterThan(50); // the property saw drop-ins that were written, not only refusals
  });

  it('a forbidden character in a value, a line or an option never renders', () => {
    const good = fc.constantFrom(...catalogLines);
    fc.assert(
      fc.property(fc.constantFrom('option', 'value', 'line'), withForbidden(fc.stringMatching(/^[A-Za-z]{1,8}$/)), good, (where, bad, l) => {
        const s: Setting = { option: 'ProtectSystem', value: 'full', lines: [l] };
        if (where === 'option') s.option = bad;
        else if (where === 'value') s.value = bad;
        else s.lines = [`${l}${bad}`];
        refused(() => renderDropIn('x.service', [s], 'trial'), 'Config');
      }),
    );
  });

  it('refuses the forms that would split, swallow or add a directive', () => {
    const bad = [
      'ProtectSystem=strict\nExecStartPre=+/usr/bin/touch /etc/x', 'ExecStartPre=+/usr/bin/touch /etc/x', 'ReadWritePaths=-/var/lib/x\\',
      'ReadWritePaths=/var/lib/%h', 'ReadWritePaths="/a /etc"', 'ProtectSystem', ' ProtectSystem=full', 'ProtectSystem =full',
      'PrivateTmp=yes\r', 'PrivateTmp=yes\0ExecStart=/bin/sh', '[Unit]', '#PrivateTmp=yes', '', 'PrivateTmp= yes', 'PrivateTmp=yes\t',
    ];
    for (const l of bad) {
      expect(lineProblem(l)).toBeDefined();
      refused(() => renderDropIn('x.service', [{ option: 'PrivateTmp', value: 'yes', lines: [l] }], 'accepted'), 'Config');
    }
    refused(() => renderDropIn('x.service', [{ option: 'PrivateTmp', value: 'yes\nExecStartPre=/bin/x', lines: ['PrivateTmp=yes'] }], 'trial'), 'Config');
    refused(() => renderDropIn('x.service\nExecStartPre=/bin/x', [], 'trial'), 'Config');
    refused(() => renderDropIn('../x.service', [], 'trial'), 'Config');
  });
});

// ---------------------------------------------------------------------------------------------
// Unit names

const nameChars = fc.constantFrom(...'abcxyzABCXYZ0189:_.-\\'.split(''));
const UNIT_TYPES = ['service', 'socket', 'target', 'device', 'mount', 'automount', 'swap', 'timer', 'path', 'slice', 'scope'];

describe('unit names', () => {
  it('accepts what systemd\'s grammar accepts, unchanged', () => {
    const prefix = fc.tuple(nameChars.filter((c) => c !== '.'), fc.string({ unit: nameChars, maxLength: 40 })).map(([a, b]) => a + b);
    const instance = fc.option(fc.string({ unit: nameChars, minLength: 1, maxLength: 40 }), { nil: undefined });
    fc.assert(
      fc.property(prefix, instance, fc.constantFrom(...UNIT_TYPES), (p, i, t) => {
        const name = `${p}${i === undefined ? '' : `@${i}`}.${t}`;
        expect(parseUnitName(name)).toBe(name);
      }),
    );
  });

  it('never accepts a slash, a control character, % or a leading dot', () => {
    const name = fc.stringMatching(/^[a-z0-9@._-]{0,20}$/);
    fc.assert(
      fc.property(name, fc.constantFrom('/', '%', '\n', '\r', '\0', '\t', '\x7f', '\u2028', ' ', '"', "'"), fc.nat(), (n, c, i) => {
        const at = i % (n.length + 1);
        for (const raw of [`${n.slice(0, at)}${c}${n.slice(at)}`, `${n.slice(0, at)}${c}${n.slice(at)}.service`]) {
          refused(() => parseUnitName(raw), 'Usage');
        }
      }),
    );
    for (const raw of ['.', '..', '../x.service', '..service', '.x.service', 'x.service/..', 'x.service\n', 'x\nExecStartPre=/bin/x.service']) {
      refused(() => parseUnitName(raw), 'Usage');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Journal records, probe specs, workloads

const trialEnd = (settings: Setting[]): JournalRecord =>
  recordSchema.parse(JSON.parse(JSON.stringify({
    t: '2026-01-01T00:00:00.000Z', unit: 'nginx.service', kind: 'trial-end', trial: 1, settings,
    outcome: 'accepted', verdict: 'ok', reason: 'ok', evidence: [],
  })));

describe('journal records', () => {
  it('a record whose setting carries an injected line is read, but never rendered (Config, exit 78)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...catalogLines), fc.constantFrom('\n', '\r', '\0', '\n\n', '\r\n'), fc.constantFrom('value', 'line', 'extra'), (l, nl, where) => {
        const inj = `${nl}ExecStartPre=+/usr/bin/touch /etc/x`;
        const s: Setting = { option: 'ProtectSystem', value: 'strict', lines: [l] };
        if (where === 'value') s.value += inj;
        else if (where === 'line') s.lines = [`${l}${inj}`];
        else s.lines = [l, inj.trimStart()];
        const records = [trialEnd([{ option: 'PrivateTmp', value: 'yes', lines: ['PrivateTmp=yes'] }]), trialEnd([s])];
        const e = refused(() => renderDropIn('nginx.service', acceptedSet(records), 'accepted'), 'Config');
        expect(EXIT_CODES[e.code]).toBe(78);
      }),
    );
  });

  it('recovery from such a journal refuses before it writes, removes or restarts anything', async () => {
    const calls: string[] = [];
    const recorder = (name: string) => new Proxy({}, { get: (_t, k) => () => void calls.push(`${name}.${String(k)}`) });
    const records = [trialEnd([{ option: 'ProtectSystem', value: 'strict', lines: ['ProtectSystem=strict\nExecStartPre=+/usr/bin/touch /etc/x'] }])];
    const journal = { read: () => records, append: () => calls.push('journal.append') };
    const ports = { systemd: recorder('systemd'), dropins: recorder('dropins'), journal, progress: () => calls.push('progress') } as unknown as Ports;
    const e = await recoverUnit(ports, 'nginx.service', { settleMs: 100, probes: [] }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(AutohardenError);
    expect((e as AutohardenError).code).toBe('Config');
    expect(calls.filter((c) => !/^dropins\.(acceptedWhere|readAccepted|hasTrial)$/.test(c))).toEqual([]);
  });
});

describe('probe specs and workloads', () => {
  it('refuse control characters and line breaks anywhere (the raw text is journaled), allow % (percent-encoding, date +%s)', () => {
    const specs = fc.constantFrom('http://127.0.0.1/', 'https://localhost:8443/health', 'tcp://127.0.0.1:6379', 'exec:redis-cli ping');
    const control = fc.constantFrom('\n', '\r', '\0', '\t', '\x1b', '\x7f', '\u2028');
    fc.assert(
      fc.property(specs, control, fc.nat(), (s, c, i) => {
        const at = 5 + (i % (s.length - 4)); // after the scheme, where the URL parser would drop it
        const raw = `${s.slice(0, at)}${c}${s.slice(at)}`;
        refused(() => parseProbeSpec(raw), 'Usage');
        refused(() => parseEnrollSpec({ unit: 'x', probes: [raw] }), 'Usage');
      }),
    );
    expect(parseProbeSpec('http://127.0.0.1/a%20b')).toMatchObject({ kind: 'http' });
    expect(parseProbeSpec('exec:test $(date +%s) -gt 0')).toMatchObject({ kind: 'exec' });
  });

  it('--workload text and the spec\'s workload: no control characters or line breaks', () => {
    for (const w of ['exec:true\nExecStartPre=/bin/x', 'exec:true\r', 'lower:/x/:true\0', 'exec:\x1b[2Jtrue']) {
      refused(() => workloadText(w), 'Usage');
      refused(() => parseEnrollSpec({ unit: 'x', workload: w }), 'Usage');
    }
    expect(workloadText('exec:curl -w %{time_total} http://127.0.0.1/')).toMatch(/^exec:/);
  });
});
