import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { EXPORT } from '../../src/app/export.js';
import { buildProgram } from '../../src/cli/program.js';
import { MARKER, renderDropIn } from '../../src/core/dropin.js';
import { AutohardenError } from '../../src/core/errors.js';
import { EXPORT_FORMATS, renderExport } from '../../src/core/exportFormats.js';
import { nixAttr, nixString } from '../../src/core/exportNix.js';
import { commentLines, commentSafe, explainAccepted } from '../../src/core/exportWhy.js';
import { wrapDirective } from '../../src/core/exportDropIn.js';
import { acceptedSet, recordSchema } from '../../src/core/journal.js';
import { ENV, HOSTILE, PROBES, UNIT, exportJournal, ok, setting } from '../fixtures/export/journal.js';

const records = exportJournal();
const accepted = acceptedSet(records);
const dropin = renderExport(UNIT, records, 'dropin', ENV);
const lines = dropin.trimEnd().split('\n');

/** The directives systemd reads: comments dropped, continued lines joined as systemd joins them. */
function directives(text: string): string[] {
  const out: string[] = [];
  let cont = '';
  for (const l of text.split('\n')) {
    if (!cont && (l.startsWith('#') || l === '' || l === '[Service]')) continue;
    if (l.endsWith(' \\')) cont += `${l.slice(0, -2).trim()} `;
    else {
      out.push(`${cont}${l.trim()}`);
      cont = '';
    }
  }
  return out;
}

/** The comment block right above line `i`. */
function commentAbove(ls: readonly string[], i: number): string {
  const out: string[] = [];
  for (let j = i - 1; j >= 0 && ls[j]!.startsWith('#'); j--) out.unshift(ls[j]!.slice(2));
  return out.join(' ');
}

describe('the annotated drop-in', () => {
  it('starts with the marker and a header: autoharden, systemd and kernel versions, date, host', () => {
    expect(lines[0]).toBe(MARKER);
    const head = lines.slice(0, lines.indexOf('[Service]')).join('\n');
    expect(head).toContain('autoharden 1.2.3');
    expect(head).toContain('host web1.example.org');
    expect(head).toContain('2026-12-02 12:00 UTC');
    expect(head).toContain('systemd 257, kernel 6.12');
  });

  it('means exactly what the engine writes: the same directives, in order', () => {
    const engine = renderDropIn(UNIT, accepted, 'accepted');
    expect(directives(dropin)).toEqual(directives(engine));
    expect(directives(dropin)).toEqual(accepted.flatMap((s) => s.lines));
  });

  it('puts a comment saying why right above every directive line', () => {
    const body = lines.slice(lines.indexOf('[Service]') + 1);
    body.forEach((l, i) => {
      if (l === '' || l.startsWith('#') || body[i - 1]?.endsWith('\\')) return;
      expect(body[i - 1], `no comment above ${l}`).toMatch(/^# /);
    });
    const above = (prefix: string) => commentAbove(body, body.findIndex((l) => l.startsWith(prefix)));
    expect(above('ProtectSystem=')).toContain('Trial #2 on 2026-12-01');
    expect(above('ProtectSystem=')).toContain(`probes passed: ${PROBES.join(', ')}`);
    expect(above('PrivateTmp=')).toMatch(/Trial #3 .*with 1 other setting/);
    // the observation behind each learned path
    expect(above('ReadWritePaths=')).toContain('/var/lib/nginx: the running unit was seen writing there before the first trial');
    expect(above('ReadWritePaths=')).toMatch(/\/var\/log\/nginx: trial #1 .*failed writing there: .*Read-only file/);
    // each kept capability: the trial without it
    const caps = above('CapabilityBoundingSet=');
    expect(caps).toMatch(/CAP_NET_BIND_SERVICE: a bounding set without it failed in trial #8/);
    expect(caps).toMatch(/CAP_CHOWN: a bounding set without it failed in trial #9/);
    expect(caps).toContain('CAP_SETUID: kept; never tried without it');
    // each kept address family, and the stronger value that failed
    const af = above('RestrictAddressFamilies=');
    expect(af).toContain('RestrictAddressFamilies=AF_UNIX was tried: trial #4');
    expect(af).toMatch(/AF_INET: RestrictAddressFamilies=AF_UNIX, which leaves it out, failed in trial #4/);
    expect(af).toContain('AF_UNIX: no value without it was tried');
  });

  it('escapes what the service wrote: no line break, control, bidi, template tag or trailing backslash reaches a comment', () => {
    for (const l of lines) {
      expect(l).toMatch(/^[\x20-\x7e]*$/);
      if (l.startsWith('#')) expect(l).not.toMatch(/[{}]|\\$/);
    }
    expect(lines.filter((l) => l === '[Service]')).toHaveLength(1);
    expect(lines).not.toContain('ProtectSystem=no');
    expect(dropin).toContain('socket() failed\\x0a[Service]\\x0aProtectSystem=no\\u2028\\u202e\\x7b\\x7b lookup');
    expect(HOSTILE).toContain('\n'); // the fixture is hostile
  });

  it('keeps working from an old journal: no platform, no cause, no probes', () => {
    const old = exportJournal({ platform: false }).map((r) => {
      if (r.kind === 'tune-begin') return { ...r, probes: [] };
      if (r.kind === 'trial-end') {
        const { cause: _c, ...rest } = r;
        return rest;
      }
      return r;
    });
    const text = renderExport(UNIT, old, 'dropin', ENV);
    expect(text).toContain('Verified on: not recorded in this journal');
    expect(text).toContain('kernel 6.12.48+deb13-amd64');
    expect(text).toContain('# Trial #2 on 2026-12-01 10:04 UTC: active, stable, 2 probe(s) passed');
    expect(directives(text)).toEqual(accepted.flatMap((s) => s.lines));
  });

  it('says where the set was last verified: a re-verification after an upgrade counts, an unhealthy one does not', () => {
    const rv = (outcome: 'ok' | 'unhealthy', systemd: number, t: string) =>
      recordSchema.parse({ kind: 'reverify', t, unit: UNIT, outcome, platform: { systemd, kernel: '6.13' }, changes: [`systemd 257 -> ${systemd}`], options: [], reason: 'probes passed' });
    const text = renderExport(UNIT, [...records, rv('ok', 258, '2026-12-02T09:00:00Z'), rv('unhealthy', 259, '2026-12-02T10:00:00Z')], 'dropin', ENV);
    expect(text).toContain('# Verified on systemd 258, kernel 6.13 (re-verification of 2026-12-02 09:00 UTC)');
    expect(text).toContain('# Re-verified on 2026-12-02 09:00 UTC after systemd 257 -> 258');
  });

  it('says so plainly when no journaled trial names a setting', () => {
    const [w] = explainAccepted([], [setting('PrivateTmp', 'yes')]);
    expect(w!.why).toEqual(['Accepted by trial (the journal names no trial for PrivateTmp=yes)']);
  });

  it('refuses a tampered setting in every format that writes lines', () => {
    const bad = recordSchema.parse({
      kind: 'trial-end', t: '2026-12-01T10:00:00Z', unit: UNIT, trial: 1,
      settings: [{ option: 'PrivateTmp', value: 'yes', lines: ['PrivateTmp=yes\nExecStartPre=/bin/sh'] }], ...ok(1),
    });
    for (const f of ['dropin', 'ansible', 'nixos']) {
      expect(() => renderExport(UNIT, [bad], f, ENV)).toThrow(expect.objectContaining({ code: 'Config' }));
    }
  });

  it('continues a long list at a space, never before a comment character', () => {
    const long = `SystemCallFilter=~${Array.from({ length: 40 }, (_, i) => `@group${i}`).join(' ')}`;
    const wrapped = wrapDirective(long, 60);
    expect(wrapped.length).toBeGreaterThan(1);
    expect(wrapped.every((l) => l.length <= 60)).toBe(true);
    expect(wrapped.slice(0, -1).every((l) => l.endsWith(' \\'))).toBe(true);
    expect(directives(wrapped.join('\n'))).toEqual([long]);
    expect(wrapDirective('ProtectSystem=strict')).toEqual(['ProtectSystem=strict']);
  });
});

describe('comment text', () => {
  it('is one printable line whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        for (const l of commentLines(s, 40)) {
          expect(l).toMatch(/^# [\x20-\x7a|~]*$/);
          expect(l).not.toMatch(/\\$/);
          expect(l.length).toBeLessThanOrEqual(42);
        }
        expect(commentSafe(s)).not.toMatch(/[^\x20-\x7e]/);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('the Ansible playbook', () => {
  const text = renderExport(UNIT, records, 'ansible', ENV);
  const [play] = parse(text, { customTags: [{ tag: '!unsafe', resolve: (s: string) => s }] }) as Array<Record<string, any>>;

  it('copies the annotated drop-in, untemplated, and restarts through a handler with a daemon reload', () => {
    const [dir, copy] = play!.tasks as Array<Record<string, any>>;
    expect(dir!['ansible.builtin.file']).toMatchObject({ path: `/etc/systemd/system/${UNIT}.d`, state: 'directory', mode: '0755' });
    expect(copy!['ansible.builtin.copy']).toMatchObject({ dest: `/etc/systemd/system/${UNIT}.d/zz-autoharden-50-accepted.conf`, mode: '0644' });
    expect(copy!['ansible.builtin.copy'].content).toBe(dropin);
    expect(text).toContain('content: !unsafe |');
    const [handler] = play!.handlers as Array<Record<string, any>>;
    expect(copy!.notify).toBe(handler!.name);
    expect(handler!['ansible.builtin.systemd_service']).toEqual({ name: UNIT, state: 'restarted', daemon_reload: true });
    expect(play!.hosts).toBe("{{ autoharden_hosts | default('web1.example.org') }}");
  });

  it('is lint-shaped: document start, names capitalised, no trailing spaces, short lines', () => {
    expect(text.startsWith('---\n')).toBe(true);
    for (const l of text.split('\n')) {
      expect(l).not.toMatch(/\s$/);
      expect(l.length).toBeLessThanOrEqual(160);
    }
    const names = [play!.name, ...play!.tasks.map((t: { name: string }) => t.name), play!.handlers[0].name] as string[];
    for (const n of names) expect(n).toMatch(/^[A-Z]/);
    expect(parseDocument(text).errors).toEqual([]);
  });

  it('targets no host when the exporting host name is not one', () => {
    const t = renderExport(UNIT, records, 'ansible', { ...ENV, host: "x') }}{{ lookup('pipe','id') }}" });
    expect(t).toContain("default('autoharden_hosts_unset')");
  });
});

describe('the NixOS module', () => {
  const text = renderExport(UNIT, records, 'nixos', ENV);

  it('sets serviceConfig attributes after the module\'s own, booleans as booleans, each with its why', () => {
    expect(text).toContain('{ lib, ... }:');
    expect(text).toContain('  systemd.services.nginx.serviceConfig = {');
    expect(text).toContain('    PrivateTmp = lib.mkAfter [ true ];');
    expect(text).toContain('    ProtectSystem = lib.mkAfter [ "strict" ];');
    expect(text).toContain('    ReadWritePaths = lib.mkAfter [ "-/var/lib/nginx -/var/log/nginx" ];');
    const ls = text.split('\n');
    ls.forEach((l, i) => {
      if (/^ {4}[A-Za-z"]/.test(l)) expect(ls[i - 1], `no why above ${l}`).toMatch(/^ {4}# /);
    });
    for (const l of ls) expect(l).toMatch(/^[\x20-\x7e]*$/);
  });

  it('quotes what Nix would read otherwise', () => {
    expect(nixString('a"b\\c${x} $y')).toBe('"a\\"b\\\\c\\${x} $y"');
    expect(nixAttr('nginx')).toBe('nginx');
    expect(nixAttr('getty@tty1')).toBe('"getty@tty1"');
    expect(nixAttr('a.b')).toBe('"a.b"');
    const inst = renderExport('getty@tty1.service', records.map((r) => ({ ...r, unit: 'getty@tty1.service' })), 'nixos', ENV);
    expect(inst).toContain('systemd.services."getty@tty1".serviceConfig = {');
    const dotted = renderExport('a.b.service', records, 'nixos', ENV);
    expect(dotted).toContain('systemd.services."a.b".serviceConfig = {');
  });

  it('refuses a unit NixOS does not name under systemd.services', () => {
    expect(() => renderExport('x.socket', records, 'nixos', ENV)).toThrow(expect.objectContaining({ code: 'Usage' }));
  });
});

describe('formats', () => {
  it('JSON is the accepted set, as before', () => {
    expect(JSON.parse(renderExport(UNIT, records, 'json', ENV))).toEqual(accepted);
  });

  it('refuses an unknown format with the list, in the use case and in core', () => {
    expect(() => renderExport('x.service', [], 'yaml', ENV)).toThrow(AutohardenError);
    expect(() => EXPORT.parse({ unit: 'x', format: 'yaml' })).toThrow(/expected dropin, json, ansible, nixos/);
    expect(EXPORT.parse({ unit: 'x', format: 'nixos' })).toEqual({ unit: 'x.service', format: 'nixos' });
  });

  it('the CLI offers exactly the formats the core renders', () => {
    const cmd = buildProgram().commands.find((c) => c.name() === 'export')!;
    const opt = cmd.options.find((o) => o.long === '--format')!;
    expect(opt.argChoices).toEqual([...EXPORT_FORMATS]);
  });
});
