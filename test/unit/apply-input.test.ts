// apply's input (app/apply.ts): a profile file is read once, its commands run only from a file
// root alone can write, and bad input is one line that changes nothing (it fails before systemd).
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { declarationsFor, parseApplyRequest, probesFor, runApply } from '../../src/app/apply.js';
import { readOwnedProfileFile as readProfileFile } from '../../src/app/profileFile.js';
import { formatApply } from '../../src/cli/applyCommands.js';

const dir = mkdtempSync(join(tmpdir(), 'fa-apply-'));
const PROFILE = {
  format: 'autoharden-profile', version: 1, unit: 'nginx.service', created: '2026-12-01T10:00:00Z',
  source: { host: 'canary', autoharden: '0.0.0', systemd: 252, kernel: '6.1.0-28-amd64' },
  execStart: [['/usr/sbin/nginx']], facts: { listens: ['tcp/80'], writes: [], uids: [0] },
  probes: ['http://127.0.0.1/', 'exec:/usr/bin/curl -fs http://127.0.0.1/'],
  declarations: { allowNet: ['10.0.0.0/8'], localOnly: false, confineSessions: false }, exposure: { before: 9.6, after: 3 },
  settings: [{ option: 'NoNewPrivileges', value: 'yes', lines: ['NoNewPrivileges=yes'] }],
};
const file = (name: string, content: unknown, mode = 0o600) => {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(p, mode);
  return p;
};
const req = (profile: string, over: Record<string, unknown> = {}) => parseApplyRequest({ profile, unit: 'nginx.service', ...over });
const asRoot = process.getuid?.() === 0;

describe('apply: the profile file', () => {
  it('refuses what is not a profile, or not readable, in one line', () => {
    expect(() => readProfileFile(join(dir, 'missing.json'))).toThrow(/cannot read profile .*missing\.json" \(ENOENT\)/);
    expect(() => readProfileFile(file('junk.json', 'not json'))).toThrow(/not JSON/);
    expect(() => readProfileFile(file('other.json', { ...PROFILE, version: 9 }))).toThrow(/version 9 is not supported/);
    expect(() => readProfileFile(dir)).toThrow(/not a regular file/);
    // a FIFO is refused without waiting for a writer
    const fifo = join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    expect(() => readProfileFile(fifo)).toThrow(expect.objectContaining({ code: 'Usage', message: expect.stringMatching(/not a regular file/) }));
  });

  it.runIf(asRoot)('runs the profile\'s commands only from a file root alone can write', () => {
    const safe = file('safe.json', PROFILE, 0o644);
    const r = readProfileFile(safe);
    expect(r.rootOnly).toBe(true);
    expect(probesFor(req(safe), r.profile, r.rootOnly).map((p) => p.kind)).toEqual(['http', 'exec']);
    const open = file('open.json', PROFILE, 0o666);
    const o = readProfileFile(open);
    expect(o.rootOnly).toBe(false);
    expect(() => probesFor(req(open), o.profile, o.rootOnly)).toThrow(/would run as root.*pass --probe/);
    // --probe replaces the profile's probes, commands and all
    expect(probesFor(req(open, { probes: ['tcp://127.0.0.1:80'] }), o.profile, o.rootOnly).map((p) => p.raw)).toEqual(['tcp://127.0.0.1:80']);
  });

  it('takes the profile\'s declarations unless the command line gives any', () => {
    const p = readProfileFile(file('d.json', PROFILE)).profile;
    expect(declarationsFor(req('x'), p)).toEqual({ allowNet: ['10.0.0.0/8'], localOnly: false, confineSessions: false });
    expect(declarationsFor(req('x', { localOnly: true }), p)).toEqual({ allowNet: [], localOnly: true, confineSessions: false });
    const bad = readProfileFile(file('bad-net.json', { ...PROFILE, declarations: { allowNet: ['10.0.0.0/99'], localOnly: false, confineSessions: false } })).profile;
    expect(() => declarationsFor(req('bad-net.json'), bad)).toThrow(/declarations/);
  });

  it('refuses a profile for another unit before it touches systemd', async () => {
    const p = file('nginx.json', PROFILE);
    await expect(runApply(parseApplyRequest({ profile: p, unit: 'sample.service' }), dir, () => {}, () => { throw new Error('no stop expected'); }))
      .rejects.toMatchObject({ code: 'Usage', message: expect.stringMatching(/is a profile for nginx\.service, not sample\.service/) });
  });

  it('prints one line per setting with its status and why', () => {
    const text = formatApply({
      unit: 'nginx.service', profile: { host: 'canary', systemd: 252, created: PROFILE.created }, trials: 3, restarts: 3, downtimeMs: 1500,
      exposure: { before: 9.6, after: 4.1 }, warnings: [],
      settings: [{ option: 'NoNewPrivileges', value: 'yes', status: 'applied' }, { option: 'ProtectSystem', value: 'strict', status: 'rejected', reason: 'exit status 10\u001b[2J' }],
      counts: { applied: 1, rejected: 1, skipped: 0 },
    });
    expect(text).toMatch(/\+ NoNewPrivileges=yes applied/);
    expect(text).toMatch(/- ProtectSystem=strict rejected: exit status 10/);
    expect(text).not.toContain('\u001b');
  });
});
