// priors show|export|import as a user meets them, run as a process on a temporary state directory:
// bad input exits with the table's code, one line on stderr, and changes nothing. And the host
// file as tune and plan read it (app/priors.ts): a malformed one is a warning, never fatal.
// The CLI is bundled with esbuild (vite's) into a temporary directory: no build needed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hostCounts, learnFromTune } from '../../src/app/priors.js';
import { priorsPath } from '../../src/adapters/priorsFile.js';
import { EXIT_CODES } from '../../src/core/errors.js';
import type { JournalRecord } from '../../src/core/journal.js';
import { bundleCli, type BundledCli } from '../harness/bundledCli.js';

let out = '';
let main = '';
let state = '';

let bundled: BundledCli | undefined;

beforeAll(async () => {
  bundled = await bundleCli('ah-pri-cli-');
  ({ out, main } = bundled);
}, 60_000);

afterAll(() => {
  bundled?.remove();
});

beforeEach(() => {
  state = mkdtempSync(join(out, 'state-'));
});

// No system bus: nothing here may need one.
const cli = (args: string[]) => spawnSync(process.execPath, [main, ...args, '--state-dir', state], {
  encoding: 'utf8', timeout: 60_000, env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(out, 'no-bus')}` },
});
const T = '2026-01-01T00:00:00.000Z';
const doc = (entries: Array<Record<string, unknown>>) => JSON.stringify({ version: 1, created: T, entries });
const file = (name: string, text: string) => {
  const p = join(out, name);
  writeFileSync(p, text);
  return p;
};
/** Everything in the state directory, by name and content. */
const snapshot = () => Object.fromEntries(readdirSync(state).map((f) => [f, readFileSync(join(state, f), 'utf8')]));

describe('autoharden priors import', { timeout: 60_000 }, () => {
  const bad: Array<[string, string]> = [
    ['not JSON', '{"version": 1,'],
    ['passed above tried', doc([{ option: 'ProtectSystem', rung: 'strict', tried: 1, passed: 5 }])],
    ['another version', JSON.stringify({ version: 2, created: T, entries: [] })],
    ['an escape in a rung', doc([{ option: 'A', rung: '\u001b]0;owned\u0007', tried: 1, passed: 0 }])],
  ];

  it.each(bad)('refuses a file that is %s: exit 2, one line, nothing written', (_what, text) => {
    const existing = doc([{ option: 'PrivateTmp', rung: 'yes', tried: 2, passed: 2 }]);
    writeFileSync(priorsPath(state), existing);
    const before = snapshot();
    const r = cli(['priors', 'import', file('bad.json', text)]);
    expect(r.status).toBe(EXIT_CODES.Usage);
    expect(r.stderr).toMatch(/^autoharden: priors import: .*bad\.json: not (JSON|a priors document) .*; nothing imported\n$/);
    expect(r.stderr).not.toContain('\u001b');
    expect(snapshot()).toEqual(before);
  });

  it('refuses a file that is missing or a directory, and creates no state', () => {
    for (const f of [join(out, 'absent.json'), out]) {
      const r = cli(['priors', 'import', f]);
      expect(r.status).toBe(EXIT_CODES.Usage);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/cannot read .*nothing imported/);
      expect(readdirSync(state)).toEqual([]);
    }
  });

  it("adds a valid file's counts to the host's; show and export then have them", () => {
    writeFileSync(priorsPath(state), doc([{ option: 'ProtectSystem', rung: 'strict', tried: 2, passed: 1 }]));
    const good = file('good.json', doc([{ option: 'ProtectSystem', rung: 'strict', tried: 3, passed: 3 }, { option: 'PrivateUsers', rung: 'self', tried: 4, passed: 0 }]));
    const r = cli(['priors', 'import', good]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^imported 2 entries \(7 trials\) from .*good\.json into /);

    const show = cli(['priors', 'show']);
    expect(show.status).toBe(0);
    expect(show.stdout).toMatch(/^OPTION +RUNG +PASSED\/TRIED +PRIOR/);
    expect(show.stdout).toMatch(/^ProtectSystem +strict +4\/5 +\d\.\d\d → \d\.\d\d$/m);
    expect(show.stdout).toMatch(/^PrivateUsers +self +0\/4 /m);

    const exp = cli(['priors', 'export']);
    expect(exp.status).toBe(0);
    const d = JSON.parse(exp.stdout) as { version: number; entries: unknown[] };
    expect(d.version).toBe(1);
    expect(d.entries).toEqual([{ option: 'PrivateUsers', rung: 'self', tried: 4, passed: 0 }, { option: 'ProtectSystem', rung: 'strict', tried: 5, passed: 4 }]);

    const to = join(out, 'exported.json');
    expect(cli(['priors', 'export', '--output', to]).status).toBe(0);
    expect((JSON.parse(readFileSync(to, 'utf8')) as typeof d).entries).toEqual(d.entries);
  });

  it('says so when there is nothing yet', () => {
    const r = cli(['priors', 'show']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^no learnt priors in .*priors\.json yet/);
  });

  it("refuses to show, export or import over a malformed host file (exit 78) and leaves it as it is", () => {
    writeFileSync(priorsPath(state), '{"version":1');
    const before = snapshot();
    for (const args of [['priors', 'show'], ['priors', 'export'], ['priors', 'import', file('ok.json', doc([]))]]) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(EXIT_CODES.Config);
      expect(r.stderr).toMatch(/^autoharden: .*priors\.json: not JSON .*; fix or remove it\n$/);
    }
    expect(snapshot()).toEqual(before);
  });
});

describe('the host file as a tune reads and updates it', () => {
  const s = (option: string, value: string) => ({ option, value, lines: [`${option}=${value}`] });
  const tuneRecords = (ok: boolean): JournalRecord[] => [
    { t: T, unit: 'x.service', kind: 'tune-begin', strategy: 'adaptive', probes: [], exposure: 5 },
    { t: T, unit: 'x.service', kind: 'trial-end', trial: 1, settings: [s('PrivateTmp', 'yes')], outcome: ok ? 'accepted' : 'rejected', verdict: ok ? 'ok' : 'exit-status', reason: 'r', evidence: [] },
    { t: T, unit: 'x.service', kind: 'tune-end', exposureBefore: 5, exposureAfter: 4, trials: 1, restarts: 1, durationMs: 1 },
  ];

  it('reads a missing file as no counts, silently; a malformed one with one warning', () => {
    const warnings: string[] = [];
    expect(hostCounts(state, (m) => warnings.push(m)).size).toBe(0);
    expect(warnings).toEqual([]);
    writeFileSync(priorsPath(state), doc([{ option: 'A', rung: 'yes', tried: 1, passed: 3 }]));
    expect(hostCounts(state, (m) => warnings.push(m)).size).toBe(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^learnt priors ignored: .*priors\.json: not a priors document \(entries\.0: passed exceeds tried\)$/);
  });

  it('does not follow a symlink planted at its name', () => {
    writeFileSync(join(out, 'elsewhere.json'), doc([{ option: 'A', rung: 'yes', tried: 1, passed: 1 }]));
    symlinkSync(join(out, 'elsewhere.json'), priorsPath(state));
    const warnings: string[] = [];
    expect(hostCounts(state, (m) => warnings.push(m)).size).toBe(0);
    expect(warnings[0]).toMatch(/symlink/);
  });

  it('does not block on a FIFO at its name', () => {
    expect(spawnSync('mkfifo', [priorsPath(state)]).status).toBe(0);
    const warnings: string[] = [];
    expect(hostCounts(state, (m) => warnings.push(m)).size).toBe(0);
    expect(warnings[0]).toMatch(/not a regular file/);
  });

  it("merges each ended tune's trials once, and leaves a malformed file alone", () => {
    const warnings: string[] = [];
    learnFromTune(state, () => tuneRecords(false), (m) => warnings.push(m));
    learnFromTune(state, () => [...tuneRecords(false), ...tuneRecords(true)], (m) => warnings.push(m));
    expect(warnings).toEqual([]);
    expect(hostCounts(state, () => {}).get('PrivateTmp')?.get('yes')).toEqual({ tried: 2, passed: 1 });
    // a tune still running (no tune-end after its begin) adds nothing
    learnFromTune(state, () => tuneRecords(true).slice(0, 2), (m) => warnings.push(m));
    expect(hostCounts(state, () => {}).get('PrivateTmp')?.get('yes')).toEqual({ tried: 2, passed: 1 });

    writeFileSync(priorsPath(state), 'garbage');
    learnFromTune(state, () => tuneRecords(true), (m) => warnings.push(m));
    expect(readFileSync(priorsPath(state), 'utf8')).toBe('garbage');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^learnt priors not updated with this tune's trials: .*not JSON/);
    // nor does a journal that cannot be read fail the tune
    learnFromTune(state, () => {
      throw new Error('journal corrupt\nsecond line');
    }, (m) => warnings.push(m));
    expect(warnings[1]).toBe("learnt priors not updated with this tune's trials: journal corrupt");
  });
});
