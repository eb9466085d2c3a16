// `autoharden audit` on a real systemd: the battery in a transient unit carrying the sample's
// sandbox. Its counts follow the settings in force (a setting on and off, then the sample stock,
// tuned and rolled back), and every audit leaves no unit and no file behind.
//
// The battery tries to write under /usr and /boot (O_TMPFILE: no name ever appears), so the box is
// booted from a debootstrapped root, whose whole tree is an overlay: a technique that misbehaved
// could not reach the machine's /usr. The root: AUTOHARDEN_TEST_ROOT, else AUTOHARDEN_BOX_ROOT,
// else the cached trixie root of scripts/make-root.sh; without one the file is skipped. Needs the
// battery built (npm run build, with a C compiler and a static libc).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, SAMPLE_UNIT, SAMPLE_URL, boxName, startBox, type Box, type Remote } from '../harness/box.js';

const ROOT = process.env.AUTOHARDEN_TEST_ROOT || process.env.AUTOHARDEN_BOX_ROOT || '/var/cache/autoharden/roots/trixie';
const HAVE_ROOT = existsSync(join(ROOT, '.autoharden-root'));
const HAVE_BATTERY = existsSync(join(REPO, 'dist/audit/autoharden-battery'));
const canBox = process.getuid?.() === 0 && HAVE_ROOT && HAVE_BATTERY;
const title = canBox
  ? `autoharden audit in a box booted from ${ROOT}`
  : `autoharden audit (skipped: needs root, a root from scripts/make-root.sh${HAVE_ROOT ? '' : ` (none at ${ROOT})`} and the built battery${HAVE_BATTERY ? '' : ' (missing)'})`;

interface Report {
  unit: string;
  auditUnit: string;
  techniques: Array<{ id: string; description: string; result: string; detail: string }>;
  summary: { blocked: number; applicable: number };
  complete: boolean;
  problems: string[];
  skippedProperties: Array<{ name: string; reason: string }>;
  disagreements: Array<{ kind: string; id: string; settings: string[]; line: string }>;
  notCompared?: string;
}

interface ScanJson {
  units: Array<{ unit: string; active: string; audit?: { blocked: number; applicable: number; possible: string[] } | { reason: string } }>;
}

const DROPIN = `/run/systemd/system/${SAMPLE_UNIT}.d/aud-test.conf`;
const PEER_PORT = 8080;

describe.skipIf(!canBox)(title, () => {
  let box: Box;
  let remote: Remote;
  let peer = '';

  /** No audit unit loaded, nothing under the audit's run directory. */
  const expectNothingLeft = async () => {
    const units = await box.exec(['systemctl', 'list-units', '--all', '--no-legend', '--plain', 'autoharden-audit-*']);
    expect(units.stdout.trim()).toBe('');
    const files = await box.sh('ls -A /run/autoharden/audit 2>/dev/null; true');
    expect(files.stdout.trim()).toBe('');
  };

  const audit = async (): Promise<Report> => {
    const r = await box.cli(['audit', SAMPLE_UNIT, '--json', '--peer', peer], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.complete, rep.problems.join('; ')).toBe(true);
    expect(rep.auditUnit).toMatch(/^autoharden-audit-autoharden-sample-[0-9a-f]+\.service$/);
    await expectNothingLeft();
    return rep;
  };
  const result = (rep: Report, id: string) => rep.techniques.find((t) => t.id === id)?.result;
  const results = (rep: Report) => Object.fromEntries(rep.techniques.map((t) => [t.id, t.result]));
  const shown = async (prop: string) => (await box.check(['systemctl', 'show', '-p', prop, '--value', SAMPLE_UNIT])).trim();
  const setDropIn = async (text: string | null) => {
    await box.sh(text === null ? `rm -f ${DROPIN}` : `mkdir -p ${DROPIN.replace(/\/[^/]+$/, '')} && printf '%s\\n' '${text}' > ${DROPIN}`);
    await box.check(['systemctl', 'daemon-reload']);
  };

  beforeAll(async () => {
    box = await startBox(boxName(import.meta.url), { root: ROOT });
    await box.installSample();
    // a home directory to find (an empty /home counts as blocked); a peer outside the box to reach
    await box.sh('mkdir -p /home/alice && echo x > /home/alice/notes');
    remote = await box.remote();
    remote.background(['node', '-e', `require('net').createServer((s) => s.end()).listen(${PEER_PORT}, '${remote.address}')`]);
    peer = `${remote.address}:${PEER_PORT}`;
  }, 90_000);

  afterAll(async () => {
    await box?.stop();
  });

  it('refuses bad input with one line and a documented exit status, and starts nothing', async () => {
    for (const [args, code] of [
      [['audit', 'bad/name'], 2],
      [['audit', SAMPLE_UNIT, '--peer', 'example.com:80'], 2],
      [['audit', 'no-such-unit.service'], 6],
    ] as const) {
      const r = await box.cli([...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    await expectNothingLeft();
  });

  it('blocks exactly what a setting blocks: on, then off again', async () => {
    const off = await audit();
    for (const id of ['write-etc', 'write-usr', 'read-root', 'read-home', 'connect-out']) expect(result(off, id), id).toBe('possible');

    // settings that act when a process starts: a cgroup setting (IPAddressDeny=) would reach the
    // running sample at daemon-reload
    await setDropIn('[Service]\nProtectSystem=full\nProtectHome=yes\nPrivateNetwork=yes');
    const on = await audit();
    for (const id of ['write-etc', 'write-usr', 'read-root', 'read-home', 'connect-out']) expect(result(on, id), id).toBe('blocked');
    expect(on.summary.blocked).toBeGreaterThanOrEqual(off.summary.blocked + 5);
    // score and battery compared: every disagreement agrees with the battery's own result, and
    // what the drop-in closed (scored settings, blocked) is no disagreement
    expect(on.notCompared).toBeUndefined();
    for (const d of on.disagreements) expect(result(on, d.id), d.line).toBe(d.kind === 'blocked-not-scored' ? 'blocked' : 'possible');
    expect(on.disagreements.filter((d) => ['write-etc', 'write-usr', 'read-home', 'connect-out'].includes(d.id))).toEqual([]);

    // a setting systemd shows in force that does not reach PrivateTmp='s /tmp: said, not scored
    await setDropIn('[Service]\nNoExecPaths=/\nPrivateTmp=yes');
    expect(await shown('NoExecPaths')).toBe('/');
    const noexec = await audit();
    expect(result(noexec, 'exec-tmp')).toBe('possible');
    expect(noexec.disagreements.find((d) => d.id === 'exec-tmp')).toMatchObject({ kind: 'set-but-possible', settings: ['NoExecPaths=/'] });

    // the service itself was not restarted: the audit reads the settings it would start with
    await setDropIn(null);
    expect(results(await audit())).toEqual(results(off));
  });

  it('scan --audit: blocked N/M beside each running unit, "-" with a reason for the others', async () => {
    const stock = await audit();
    const r = await box.cli(['scan', '--audit', '--json'], { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    await expectNothingLeft();
    const rows = (JSON.parse(r.stdout) as ScanJson).units;
    const sample = rows.find((u) => u.unit === SAMPLE_UNIT);
    // no --peer in a scan: connect-out is skipped there
    const withoutPeer = stock.summary.blocked - (result(stock, 'connect-out') === 'blocked' ? 1 : 0);
    expect(sample?.audit).toEqual({ blocked: withoutPeer, applicable: stock.summary.applicable - 1, possible: stock.techniques.filter((t) => t.result === 'possible' && t.id !== 'connect-out').map((t) => t.id) });
    for (const u of rows) {
      expect(u.audit, u.unit).toBeDefined();
      if (u.active !== 'active') expect(u.audit, u.unit).toEqual({ reason: expect.stringMatching(/^not running/) });
    }
    expect(rows.filter((u) => u.audit && 'blocked' in u.audit).length).toBeGreaterThan(1);
    const text = await box.cli(['scan', '--audit'], { timeoutMs: 600_000 });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^UNIT +EXPOSURE {2}AUDIT/);
    expect(text.stdout).toMatch(new RegExp(`^${SAMPLE_UNIT.replace(/\./g, '\\.')} +\\d+\\.\\d  blocked ${withoutPeer}/${stock.summary.applicable - 1} `, 'm'));
    await expectNothingLeft();
  });

  it('stock → tuned → rolled back: the blocked count rises after tune and returns after rollback', async () => {
    const stock = await audit();
    const t = await box.cli(['tune', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--settle', '1s', '--audit', '--json'], { timeoutMs: 300_000 });
    expect(t.code, t.stderr).toBe(0);
    await expectNothingLeft();
    const tuned = await audit();
    // tune --audit ran the battery (without a peer) before and after, journaled it, and says what moved
    const ta = (JSON.parse(t.stdout) as { audit?: { before?: { blocked: number }; after?: { blocked: number }; closed: string[]; stillPossible: string[] } }).audit;
    expect(ta?.before?.blocked).toBe(stock.summary.blocked - (result(stock, 'connect-out') === 'blocked' ? 1 : 0));
    expect(ta?.after?.blocked).toBe(tuned.summary.blocked - (result(tuned, 'connect-out') === 'blocked' ? 1 : 0));
    expect(ta?.closed).toEqual(expect.arrayContaining(tuned.techniques.filter((x) => x.result === 'blocked' && result(stock, x.id) === 'possible' && x.id !== 'connect-out').map((x) => x.id)));
    expect(ta?.stillPossible).toEqual(tuned.techniques.filter((x) => x.result === 'possible' && x.id !== 'connect-out').map((x) => x.id));
    const doc = await box.cli(['report', SAMPLE_UNIT, '--format', 'md']);
    expect(doc.stdout).toMatch(new RegExp(`Attack battery \\(tune --audit\\): blocked ${ta?.before?.blocked}/\\d+ → ${ta?.after?.blocked}/\\d+`));
    expect((await box.cli(['journal', SAMPLE_UNIT])).stdout).toMatch(/audit +before: blocked \d+\/\d+/);
    expect(tuned.summary.blocked).toBeGreaterThan(stock.summary.blocked);
    // each technique against the setting that blocks it, as tune left it
    const protectSystem = await shown('ProtectSystem');
    expect(result(tuned, 'write-etc'), `ProtectSystem=${protectSystem}`).toBe(['full', 'strict'].includes(protectSystem) ? 'blocked' : 'possible');
    const protectHome = await shown('ProtectHome');
    for (const id of ['read-root', 'read-home']) {
      expect(result(tuned, id), `ProtectHome=${protectHome}`).toBe(['yes', 'tmpfs'].includes(protectHome) ? 'blocked' : 'possible');
    }

    const rb = await box.cli(['rollback', SAMPLE_UNIT, '--all', '--settle', '1s']);
    expect(rb.code, rb.stderr).toBe(0);
    // the text form this time: one line per technique, then the count
    const r = await box.cli(['audit', SAMPLE_UNIT, '--peer', peer], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    await expectNothingLeft();
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, stock.techniques.length).map((l) => l.split(' ')[0])).toEqual(stock.techniques.map((x) => x.result));
    expect(lines[stock.techniques.length]).toBe(`blocked ${stock.summary.blocked}/${stock.summary.applicable}`);
  });
});
