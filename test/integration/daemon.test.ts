// The daemon as a real unit in a real systemd: installed from systemd/ with a drop-in pointing
// ExecStart at the checkout, its bus policy in place. Two real services tuned concurrently, status
// and journal through the CLI, the guard (a later failure the hardening causes, and one it does
// not), kill -9 at each step of a trial, daemon-reexec and a dbus-daemon restart under it,
// AccessDenied for a non-root caller (methods and signals), malformed specs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, type ExecOptions, SAMPLE_UNIT, SAMPLE_URL, SRC_IN_BOX, boxName, startBox, waitFor } from '../harness/box.js';
import { directives } from '../harness/dropin.js';

const NGINX_URL = 'http://127.0.0.1/';
const SAMPLE_DROPINS = `/etc/systemd/system/${SAMPLE_UNIT}.d`;
const TRIAL = `/run/systemd/system/${SAMPLE_UNIT}.d/zz-autoharden-90-trial.conf`;
const FAULT = '/etc/systemd/system/autoharden.service.d/fault.conf';
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

interface Row {
  unit: string; state: string; enrolled: boolean; exposureBefore: number | null; exposureAfter: number | null;
  trials: number; currentTrial: { trial: number; settings: string } | null; accepted: string[]; error?: string;
}
interface Rec { kind: string; t: string; trial?: number; by?: string; options?: string[]; reason?: string; outcome?: string; all?: boolean; evidence?: string[] }

let box: Box;

const cli = (args: string[], opts?: ExecOptions) => box.cli(args, opts);
async function ok(args: string[], opts?: ExecOptions): Promise<string> {
  const r = await cli(args, opts);
  expect(r.code, `autoharden ${args.join(' ')}\n${r.stderr.slice(-1500)}`).toBe(0);
  return r.stdout;
}
const status = async (): Promise<Row[]> => JSON.parse(await ok(['status', '--json'])) as Row[];
const row = async (unit: string) => (await status()).find((r) => r.unit === unit);
const journal = async (unit: string): Promise<Rec[]> => JSON.parse(await ok(['journal', unit, '--json'])) as Rec[];
const daemon = () => box.show('autoharden.service', ['ActiveState', 'MainPID', 'NRestarts', 'Result']);

async function waitRow(unit: string, pred: (r: Row | undefined) => boolean, timeoutMs: number, what: string): Promise<Row | undefined> {
  let last: Row | undefined;
  await waitFor(async () => pred((last = await row(unit))), timeoutMs, { what: `${unit}: ${what}`, intervalMs: 500 });
  return last;
}

async function restartDaemon(): Promise<void> {
  await box.check('systemctl daemon-reload && systemctl reset-failed autoharden.service; systemctl restart autoharden.service');
  expect((await daemon()).ActiveState).toBe('active');
}

/** Records of the unit's current tune (since its last tune-begin). */
const sinceBegin = (recs: Rec[]) => recs.slice(recs.map((r) => r.kind).lastIndexOf('tune-begin'));

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url));
  await box.installSample();
  await box.check(['systemctl', 'start', 'nginx']);
  await box.check(['sh', `${SRC_IN_BOX}/scripts/daemon-install.sh`]);
  expect((await daemon()).ActiveState).toBe('active');
}, 90_000);

afterAll(async () => {
  await box?.stop();
});

describe('the D-Bus API', () => {
  it('is documented by busctl introspect', async () => {
    const table = await box.check(['busctl', 'introspect', 'org.autoharden1', '/org/autoharden1']);
    for (const m of ['.Enroll', '.Status', '.Journal', '.Rollback', '.Unenroll', '.Export', '.Progress', '.TrialFinished']) expect(table).toContain(m);
    expect(table).toMatch(/\.Rollback\s+method\s+ssbu\s+s/);
    expect(table).toMatch(/\.StateDirectory\s+property\s+s\s+"\/var\/lib\/autoharden"/);
    const xml = await box.check(['busctl', 'introspect', '--xml-interface', 'org.autoharden1', '/org/autoharden1']);
    expect(xml).toContain('<arg name="spec" type="s" direction="in"/>');
    expect(xml).toMatch(/<!-- Remove one accepted option, or all of them/);
    expect(xml).toContain('org.autoharden1.Error.UnitUnknown');
  });

  it('refuses malformed specs at enroll time with exit 2, queueing nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['enroll', 'nginx/../x.service', '--probe', NGINX_URL], /invalid unit name/],
      [['enroll', 'nginx', '--probe', 'htp:/nope'], /bad probe spec/],
      [['enroll', 'nginx', '--probe', 'tcp://127.0.0.1'], /bad probe spec/],
      [['enroll', 'nginx', '--settle', '5ms'], /--settle/],
      [['enroll', 'nginx', '--local-only', '--allow-net', '10.0.0.0/8'], /contradict/],
      [['enroll', 'nginx', '--allow-net', '10.0.0.0/99'], /--allow-net/],
      [['enroll', 'autoharden.service'], /does not tune itself/],
      [['enroll', 'dbus.service'], /system bus/],
      [['unenroll', 'nginx', '--keep', '--remove'], /not both/],
    ];
    for (const [args, msg] of cases) {
      const r = await cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n').filter((l) => !/^\s*$|^\(add --help|^Usage:/.test(l))).toHaveLength(1);
    }
    // Straight to the bus: the daemon validates too, and answers with a one-line typed error.
    const send = (spec: string) => box.exec(['dbus-send', '--system', '--print-reply', '--dest=org.autoharden1', '/org/autoharden1', 'org.autoharden1.Manager.Enroll', `string:${spec}`]);
    for (const [spec, msg] of [
      ['not json', /not JSON/],
      ['{"unit":"nginx.service","probe":[]}', /Unrecognized key/],
      ['{"unit":"nginx.service","probes":["ftp://x/"]}', /probes\[0\]: bad probe spec/],
      ['{"unit":"nginx.service","settleMs":-1}', /settleMs/],
      ['{"unit":"nginx.service","strategy":"fastest"}', /strategy/],
    ] as const) {
      const r = await send(spec);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim()).toMatch(new RegExp(`^Error org\\.autoharden1\\.Error\\.Usage: .*${msg.source}`));
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    // Unknown or stopped units are refused with 6, before anything is queued.
    const unknown = await cli(['enroll', 'no-such-thing.service', '--probe', NGINX_URL]);
    expect(unknown.code).toBe(6);
    const stopped = await cli(['enroll', 'memcached.service', '--probe', 'tcp://127.0.0.1:11211']);
    expect(stopped.code).toBe(6);
    expect(stopped.stderr).toMatch(/not running/);
    expect((await status()).filter((r) => r.enrolled)).toEqual([]);
    expect((await box.exec('ls /var/lib/autoharden/enrollments 2>/dev/null')).stdout.trim()).toBe('');
  });

  it('denies a non-root caller: methods, the name, and our signals', async () => {
    const m = await box.exec([...NOBODY, 'busctl', 'call', 'org.autoharden1', '/org/autoharden1', 'org.autoharden1.Manager', 'Status', 's', '']);
    expect(m.code).not.toBe(0);
    expect(m.stderr).toMatch(/Access denied|AccessDenied|Rejected send message/i);
    const intro = await box.exec([...NOBODY, 'busctl', 'introspect', 'org.autoharden1', '/org/autoharden1']);
    expect(intro.code).not.toBe(0);
    const own = await box.exec([...NOBODY, 'dbus-send', '--system', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.RequestName', 'string:org.autoharden1', 'uint32:4']);
    expect(own.stderr).toMatch(/^Error org\.freedesktop\.DBus\.Error\.AccessDenied: .*not allowed to own the service "org\.autoharden1"/);
    for (const args of [['status'], ['journal', 'nginx'], ['enroll', 'nginx', '--probe', NGINX_URL]]) {
      const r = await box.exec([...NOBODY, '/usr/bin/node', `${SRC_IN_BOX}/dist/cli/main.js`, ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(4);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }

    // Signals: a root listener and a uid-65534 listener, both with match rules for everything
    // org.autoharden1 sends, while root makes the daemon talk (an enrollment that fails its probe).
    await box.writeFile('/tmp/listen.mjs', LISTENER);
    const script = [
      'node /tmp/listen.mjs 5000 > /tmp/root.out 2>&1 &',
      `${NOBODY.join(' ')} node /tmp/listen.mjs 5000 > /tmp/nobody.out 2>&1 &`,
      'sleep 1.5',
      `node ${SRC_IN_BOX}/dist/cli/main.js enroll ${SAMPLE_UNIT} --probe tcp://127.0.0.1:9 --settle 300ms --wait >/dev/null 2>&1`,
      `node ${SRC_IN_BOX}/dist/cli/main.js unenroll ${SAMPLE_UNIT} >/dev/null 2>&1`,
      'wait',
    ].join('\n');
    await box.check(['sh', '-c', script], { timeoutMs: 60_000 });
    const rootOut = JSON.parse((await box.readFile('/tmp/root.out'))!) as { ready: boolean; signals: string[] };
    const nobodyOut = JSON.parse((await box.readFile('/tmp/nobody.out'))!) as { ready: boolean; signals: string[] };
    expect(rootOut.ready && nobodyOut.ready).toBe(true);
    expect(rootOut.signals.some((s) => s.startsWith(`Progress ${SAMPLE_UNIT} failed`))).toBe(true);
    expect(rootOut.signals.some((s) => s.startsWith(`Progress ${SAMPLE_UNIT} unenrolled`))).toBe(true);
    expect(nobodyOut.signals).toEqual([]);
  }, 90_000);
});

describe('two real services enrolled at once', () => {
  let rows: Row[];

  beforeAll(async () => {
    const common = ['--settle', '800ms', '--strategy', 'adaptive'];
    // An exec probe runs inside the daemon's sandbox: reading a pid file and signalling (0) a root process works there.
    const n = JSON.parse(await ok(['enroll', 'nginx', '--probe', NGINX_URL, '--probe', 'exec:kill -0 $(cat /run/nginx.pid)', ...common, '--json'])) as { unit: string; state: string };
    expect(n).toEqual({ unit: 'nginx.service', state: 'queued' });
    // --wait subscribes before it enrolls, prints progress on stderr and the report at the end.
    const s = await cli(['enroll', SAMPLE_UNIT, '--probe', SAMPLE_URL, ...common, '--wait'], { timeoutMs: 300_000 });
    expect(s.code, s.stderr.slice(-2000)).toBe(0);
    expect(s.stdout).toMatch(/autoharden-sample\.service: exposure 9\.\d UNSAFE → \d\.\d/);
    expect(s.stderr).toMatch(/trial #\d+/);
    await waitRow('nginx.service', (r) => r?.state === 'guarding', 240_000, 'guarding');
    rows = await status();
  }, 420_000);

  it('tunes both, interleaving their trials one at a time', async () => {
    for (const unit of ['nginx.service', SAMPLE_UNIT]) {
      const r = rows.find((x) => x.unit === unit)!;
      expect(r.state).toBe('guarding');
      expect(r.exposureBefore).toBeGreaterThanOrEqual(9);
      expect(r.exposureAfter!).toBeLessThan(r.exposureBefore! - 5);
      expect(r.trials).toBeGreaterThan(3);
    }
    // One trial at a time: no two trials overlap, and the units took turns.
    const trials = (await Promise.all(['nginx.service', SAMPLE_UNIT].map(async (unit) => {
      const recs = sinceBegin(await journal(unit));
      return recs.filter((r) => r.kind === 'trial-begin').map((b) => ({
        unit, begin: Date.parse(b.t), end: Date.parse(recs.find((e) => e.kind === 'trial-end' && e.trial === b.trial)!.t),
      }));
    }))).flat().sort((a, b) => a.begin - b.begin);
    for (let i = 1; i < trials.length; i++) expect(trials[i]!.begin).toBeGreaterThanOrEqual(trials[i - 1]!.end);
    const firstSample = trials.findIndex((t) => t.unit === SAMPLE_UNIT);
    const lastNginx = trials.map((t) => t.unit).lastIndexOf('nginx.service');
    expect(firstSample).toBeLessThan(lastNginx); // the sample did not wait for nginx to finish
    let switches = 0;
    for (let i = 1; i < trials.length; i++) if (trials[i]!.unit !== trials[i - 1]!.unit) switches++;
    expect(switches).toBeGreaterThanOrEqual(4);
  });

  it('shows status, journal and export through the daemon, and the same without it', async () => {
    const text = await ok(['status']);
    expect(text).toMatch(/nginx\.service\s+guarding\s+9\.\d → \d\.\d/);
    const viaDaemon = await ok(['journal', 'nginx.service', '--json']);
    const exported = await ok(['export', 'nginx.service']);
    expect(exported.split('\n')[0]).toBe('# Managed by autoharden');
    expect(directives(await box.readFile('/etc/systemd/system/nginx.service.d/zz-autoharden-50-accepted.conf'))).toEqual(directives(exported));
    expect(directives(exported).length).toBeGreaterThan(1);
    expect((await box.http(NGINX_URL)).status).toBe(200);
    expect((await box.http(SAMPLE_URL)).status).toBe(200);

    await box.check(['systemctl', 'stop', 'autoharden.service']);
    try {
      expect(await ok(['journal', 'nginx.service', '--json'])).toBe(viaDaemon);
      const offline = JSON.parse(await ok(['status', '--json'])) as Row[];
      expect(offline.map((r) => [r.unit, r.state])).toEqual(expect.arrayContaining([['nginx.service', 'guarding'], [SAMPLE_UNIT, 'guarding']]));
      expect(await ok(['export', 'nginx.service'])).toBe(exported);
      const enroll = await cli(['enroll', 'memcached', '--probe', 'tcp://127.0.0.1:11211']);
      expect(enroll.code).toBe(1);
      expect(enroll.stderr).toMatch(/daemon is not running/);
    } finally {
      await box.check(['systemctl', 'start', 'autoharden.service']);
    }
    expect((await row('nginx.service'))?.state).toBe('guarding');
  });
});

describe('the guard', () => {
  it('alerts and relaxes nothing when the sample starts writing /etc and its probe fails; a person can roll back', async () => {
    // The sample's own text is no authority (issue 9): GET /, the enrollment's probe, now also
    // writes /etc and answers 500 under ProtectSystem; the guard says so and keeps the sandbox.
    const before = (await row(SAMPLE_UNIT))!.accepted;
    expect(before.some((a) => a.startsWith('ProtectSystem='))).toBe(true);
    const n = (await journal(SAMPLE_UNIT)).length;
    await box.writeFile(`${SAMPLE_DROPINS}/env.conf`, '[Service]\nEnvironment=SAMPLE_WRITE_ON_REQUEST=/etc/autoharden-sample.state\n');
    await box.check('systemctl daemon-reload && systemctl restart autoharden-sample');
    await waitFor(async () => (await box.http(SAMPLE_URL)).status === 500, 15_000, { what: 'the probe fails: the write under /etc', intervalMs: 300 });
    const alert = await waitFor(async () => (await journal(SAMPLE_UNIT)).slice(n).find((r) => r.kind === 'alert'), 30_000, { what: 'an alert', intervalMs: 500 });
    expect(alert.by).toBe('guard');
    expect([alert.reason ?? '', ...(alert.evidence ?? [])].join('\n')).toMatch(/autoharden-sample\.state.*read-only file system/i);
    expect((await journal(SAMPLE_UNIT)).slice(n).filter((r) => r.kind === 'rollback')).toEqual([]);
    expect((await row(SAMPLE_UNIT))!.accepted).toEqual(before);
    expect((await box.show(SAMPLE_UNIT, ['ProtectSystem'])).ProtectSystem).toBe('strict');
    expect(await box.readFile('/etc/autoharden-sample.state')).toBeNull();
    // A person's rollback always works: the probe passes again, the write lands.
    await ok(['rollback', SAMPLE_UNIT, '--option', 'ProtectSystem', '--settle', '600ms']);
    expect((await box.http(SAMPLE_URL)).status).toBe(200);
    expect(await box.readFile('/etc/autoharden-sample.state')).not.toBeNull();
    const r = await row(SAMPLE_UNIT);
    expect(r?.state).toBe('guarding');
    expect(r?.accepted).toEqual(before.filter((a) => !a.startsWith('ProtectSystem=')));
    expect((await journal(SAMPLE_UNIT)).slice(n).filter((x) => x.kind === 'rollback').map((x) => [x.by, x.options])).toEqual([['user', ['ProtectSystem']]]);
    expect((await box.show(SAMPLE_UNIT, ['ActiveState'])).ActiveState).toBe('active');
  }, 90_000);

  it('alerts when a config change makes nginx write under /etc (exit 1 + EROFS): its sandbox still sets up, so nothing is relaxed; the admin rolls back', async () => {
    await box.writeFile('/etc/nginx/conf.d/ah-guard.conf', 'error_log /etc/nginx/ah-guard.log;\n');
    const before = (await row('nginx.service'))!.accepted;
    expect(before.some((a) => a.startsWith('ProtectSystem='))).toBe(true);
    const n = (await journal('nginx.service')).length;
    const restart = await box.exec(['systemctl', 'restart', 'nginx']);
    expect(restart.code).not.toBe(0); // nginx -t cannot open its new log: read-only file system
    const alert = await waitFor(async () => (await journal('nginx.service')).slice(n).find((r) => r.kind === 'alert'), 30_000, { what: 'an alert', intervalMs: 500 });
    expect(alert.by).toBe('guard');
    expect(alert.reason).toMatch(/control process exit status 1.*points at .*ProtectSystem.*sandbox sets up.*relaxes nothing/);
    expect((await journal('nginx.service')).slice(n).filter((r) => r.kind === 'rollback')).toEqual([]);
    expect((await row('nginx.service'))!.accepted).toEqual(before);
    expect(await box.readFile('/etc/nginx/ah-guard.log')).toBeNull();
    // the admin, who made the change, decides: a person's rollback always works
    await ok(['rollback', 'nginx.service', '--option', 'ProtectSystem', '--settle', '1000ms']);
    expect((await box.http(NGINX_URL)).status).toBe(200);
    expect(await box.readFile('/etc/nginx/ah-guard.log')).not.toBeNull();
    expect((await row('nginx.service'))!.state).toBe('guarding');
  }, 90_000);

  it('alerts once on a failure hardening did not cause (a config error, exit 1) and rolls nothing back', async () => {
    const before = (await row('nginx.service'))!.accepted;
    const n = (await journal('nginx.service')).length;
    await box.writeFile('/etc/nginx/conf.d/ah-guard.conf', 'this_is_not_a_directive on;\n');
    expect((await box.exec(['systemctl', 'restart', 'nginx'])).code).not.toBe(0);
    await waitFor(async () => (await journal('nginx.service')).length > n, 20_000, { what: 'a journal record', intervalMs: 500 });
    const added = (await journal('nginx.service')).slice(n);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ kind: 'alert', by: 'guard' });
    expect(added[0]!.reason).toMatch(/control process exit status 1.*sandbox sets up/);
    expect((await row('nginx.service'))!.accepted).toEqual(before);
    expect((await box.show('nginx.service', ['ActiveState'])).ActiveState).toBe('failed');
    // the same failure again is not a new alert
    expect((await box.exec(['systemctl', 'restart', 'nginx'])).code).not.toBe(0);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await journal('nginx.service')).length).toBe(n + 1);
    // the admin fixes the config; nginx comes back with its hardening intact
    await box.check('rm -f /etc/nginx/conf.d/ah-guard.conf /etc/nginx/ah-guard.log && systemctl restart nginx');
    expect((await box.http(NGINX_URL)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await journal('nginx.service')).length).toBe(n + 1);
    expect((await row('nginx.service'))!.accepted).toEqual(before);
  }, 60_000);
  it("alerts on an errno-like line in nginx's error.log — anyone could have put it there — and relaxes nothing", async () => {
    // nginx healthy, whatever the tests before left behind
    if ((await box.exec('rm -f /etc/nginx/conf.d/ah-guard.conf /etc/nginx/ah-guard.log; systemctl is-active nginx')).code !== 0) {
      await box.check('systemctl reset-failed nginx; systemctl restart nginx');
    }
    expect((await box.http(NGINX_URL)).status).toBe(200);
    const e = JSON.parse((await box.readFile('/var/lib/autoharden/enrollments/nginx.service.json'))!) as { baseline: { logFiles: string[] } };
    expect(e.baseline.logFiles).toContain('/var/log/nginx/error.log');
    const before = (await row('nginx.service'))!.accepted;
    expect(before.some((a) => a.startsWith('RestrictAddressFamilies='))).toBe(true);
    const raf = (await box.show('nginx.service', ['RestrictAddressFamilies'])).RestrictAddressFamilies;
    const n = (await journal('nginx.service')).length;
    // as nginx would log it when a worker opens a socket of a family the filter forbids — or as a
    // client's Referer puts it there (issue 9): the guard cannot tell, so it only alerts
    await box.check(`echo '2026/11/28 23:00:00 [alert] 4242#4242: *7 socket() failed (97: Address family not supported by protocol) while connecting to upstream' >> /var/log/nginx/error.log`);
    const alert = await waitFor(async () => (await journal('nginx.service')).slice(n).find((r) => r.kind === 'alert'), 20_000, { what: 'an alert', intervalMs: 500 });
    expect(alert.by).toBe('guard');
    expect([alert.reason ?? '', ...(alert.evidence ?? [])].join('\n')).toMatch(/error\.log: .*Address family not supported/);
    expect((await journal('nginx.service')).slice(n).filter((r) => r.kind === 'rollback')).toEqual([]);
    expect((await row('nginx.service'))!.accepted).toEqual(before);
    expect(await box.show('nginx.service', ['ActiveState', 'RestrictAddressFamilies'])).toEqual({ ActiveState: 'active', RestrictAddressFamilies: raf });
    expect((await box.http(NGINX_URL)).status).toBe(200);
  }, 60_000);
});

describe('a daemon killed mid-trial (kill -9 by the fault hook), then restarted', () => {
  beforeAll(async () => {
    await box.exec(`rm -f ${SAMPLE_DROPINS}/env.conf; systemctl daemon-reload; systemctl restart ${SAMPLE_UNIT}`);
    const r = await cli(['unenroll', SAMPLE_UNIT, '--remove']);
    expect([0, 6]).toContain(r.code); // 6: not enrolled (when this block runs alone)
  }, 60_000);

  afterAll(async () => {
    await box.exec(`rm -f ${FAULT}; systemctl daemon-reload; systemctl reset-failed autoharden.service; systemctl start autoharden.service`);
  });

  it.each(['after-dropin', 'after-reload', 'during-settle', 'during-probe'])('at %s: reverts and journals the trial, and tunes on', async (step) => {
    await box.writeFile(FAULT, `[Service]\nEnvironment=AUTOHARDEN_FAULT=${step}:2\nRestart=no\n`);
    await restartDaemon();
    const pid = (await daemon()).MainPID;
    await ok(['enroll', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--settle', '600ms']);
    await waitFor(async () => (await daemon()).ActiveState === 'failed', 60_000, { what: 'the daemon to die at the fault', intervalMs: 200 });
    expect((await daemon()).Result).toBe('signal');

    // The daemon is gone: the CLI reads the state directory itself.
    const dead = sinceBegin(await journal(SAMPLE_UNIT));
    const open = dead.filter((r) => r.kind === 'trial-begin').at(-1)!;
    expect(dead.some((r) => r.kind === 'trial-end' && r.trial === open.trial)).toBe(false);
    const offline = (await row(SAMPLE_UNIT))!;
    expect(offline.state).toBe('tuning');
    expect(offline.currentTrial?.trial).toBe(open.trial);
    expect(await box.readFile(TRIAL)).toContain('# Managed by autoharden');

    await box.exec(`rm -f ${FAULT}`);
    await restartDaemon();
    expect((await daemon()).MainPID).not.toBe(pid);
    // Recovered (journaled), and tuning carried on with the next trial.
    await waitFor(async () => {
      const recs = await journal(SAMPLE_UNIT);
      return recs.some((r) => r.kind === 'recovered' && r.trial === open.trial)
        && recs.some((r) => r.kind === 'trial-end' && r.trial! > open.trial!);
    }, 60_000, { what: `recovered #${open.trial} and a later trial`, intervalMs: 500 });
    const all = await journal(SAMPLE_UNIT);
    const recs = all.slice(all.findIndex((r) => r.kind === 'tune-begin' && r.t === dead[0]!.t));
    expect(recs.filter((r) => r.kind === 'tune-begin')).toHaveLength(1); // resumed, not begun anew
    const rec = recs.findIndex((r) => r.kind === 'recovered');
    expect(recs.slice(rec + 1).find((r) => r.kind === 'trial-begin')?.trial).toBe(open.trial! + 1);
    expect((await row(SAMPLE_UNIT))!.state).toMatch(/tuning|guarding/);

    // Stop tuning here, keeping what was accepted: only accepted options remain, none under trial.
    await ok(['unenroll', SAMPLE_UNIT, '--keep']);
    expect(await box.readFile(TRIAL)).toBeNull();
    const exported = await ok(['export', SAMPLE_UNIT]);
    const accepted = JSON.parse(await ok(['export', SAMPLE_UNIT, '--format', 'json'])) as unknown[];
    // the drop-in holds exactly the accepted set (none at all: no file)
    const file = await box.readFile(`${SAMPLE_DROPINS}/zz-autoharden-50-accepted.conf`);
    expect(file === null ? null : directives(file)).toEqual(accepted.length ? directives(exported) : null);
    expect((await box.show(SAMPLE_UNIT, ['ActiveState'])).ActiveState).toBe('active');
    expect((await box.http(SAMPLE_URL)).status).toBe(200);
    await ok(['rollback', SAMPLE_UNIT, '--all', '--settle', '600ms']);
  }, 120_000);
});

describe('systemd re-executing itself during tuning', () => {
  it('loses no trial, no enrollment, and the daemon keeps running', async () => {
    const before = await daemon();
    // Slow starts: a re-execution is likely to fall while a restart job is under way.
    await box.writeFile(`${SAMPLE_DROPINS}/slow-start.conf`, '[Service]\nExecStartPre=/bin/sleep 0.7\n');
    await box.check('systemctl daemon-reload && systemctl restart autoharden-sample');
    await ok(['enroll', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--settle', '600ms']);
    await waitRow(SAMPLE_UNIT, (r) => r?.state === 'tuning' && r.trials >= 2, 60_000, 'two trials');
    for (let i = 0; i < 5; i++) {
      await box.check(['systemctl', 'daemon-reexec']);
      await new Promise((r) => setTimeout(r, 700 + 300 * i));
    }
    const reexecAt = (await journal(SAMPLE_UNIT)).filter((r) => r.kind === 'trial-end').length;
    await waitFor(async () => (await journal(SAMPLE_UNIT)).filter((r) => r.kind === 'trial-end').length >= reexecAt + 3, 60_000,
      { what: 'three more trials after the re-executions', intervalMs: 500 });
    const after = await daemon();
    expect(after.MainPID).toBe(before.MainPID);
    expect(after.NRestarts).toBe(before.NRestarts);
    const recs = sinceBegin(await journal(SAMPLE_UNIT));
    expect(recs.filter((r) => r.kind === 'recovered')).toEqual([]);
    const begun = recs.filter((r) => r.kind === 'trial-begin').map((r) => r.trial);
    const ended = recs.filter((r) => r.kind === 'trial-end').map((r) => r.trial);
    expect(begun.slice(0, ended.length)).toEqual(ended); // every trial but the running one ended
    expect((await row(SAMPLE_UNIT))!.state).toMatch(/tuning|guarding/);
    const log = await box.check('journalctl -u autoharden.service -o cat --no-pager');
    expect(log).toMatch(/systemd re-executed/);
    await ok(['unenroll', SAMPLE_UNIT, '--remove']);
    await box.check(`rm ${SAMPLE_DROPINS}/slow-start.conf && systemctl daemon-reload && systemctl restart autoharden-sample`);
    // Type=simple: the restart returns at fork; the sample listens a moment later
    await waitFor(async () => (await box.http(SAMPLE_URL)).status === 200, 15_000, { what: 'the sample serving again', intervalMs: 300 });
  }, 150_000);
});

describe('the system bus restarting', () => {
  it('reconnects (or is restarted by systemd) without losing an enrollment, and keeps guarding', async () => {
    const before = (await status()).filter((r) => r.enrolled).map((r) => [r.unit, r.state]);
    expect(before).toContainEqual(['nginx.service', 'guarding']);
    const pid = (await daemon()).MainPID;
    const since = (await box.check('date +%s.%N')).trim();
    await box.check(['systemctl', 'restart', 'dbus.service']);
    const viaBus = () => box.exec(['busctl', 'call', 'org.autoharden1', '/org/autoharden1', 'org.autoharden1.Manager', 'Status', 's', '']);
    await waitFor(async () => (await daemon()).ActiveState === 'active' && (await viaBus()).code === 0, 30_000, { what: 'the daemon on the bus again', intervalMs: 300 });
    // In place, or — systemd stops a Type=dbus service whose name it finds unowned when it gets
    // back on the bus itself, and the race is systemd's to win — restarted by Restart=always.
    const log = await box.check(`journalctl -u autoharden.service -o cat --no-pager --since=@${since}`);
    if ((await daemon()).MainPID === pid) expect(log).toMatch(/reconnected to the system bus/);
    else expect(log).toMatch(/SIGTERM: stopping at the next safe point[\s\S]*stopped \(exit 0\)/);
    expect((await status()).filter((r) => r.enrolled).map((r) => [r.unit, r.state])).toEqual(before);
    // still guarding: a new failure is still noticed
    const n = (await journal('nginx.service')).length;
    await box.writeFile('/etc/nginx/conf.d/ah-guard.conf', 'still_not_a_directive on;\n');
    await box.exec(['systemctl', 'restart', 'nginx']);
    await waitFor(async () => (await journal('nginx.service')).length > n, 20_000, { what: 'the guard journaling the failure', intervalMs: 500 });
    await box.check('rm /etc/nginx/conf.d/ah-guard.conf && systemctl restart nginx');
  }, 90_000);
});

describe('its log', () => {
  it('is text filed at journald priorities, and holds no error but the expected one', async () => {
    type Entry = { PRIORITY: string; MESSAGE: string; _TRANSPORT: string };
    const all = (await box.check('journalctl -u autoharden.service -o json --no-pager')).trim().split('\n').map((l) => JSON.parse(l) as Entry);
    const own = all.filter((e) => e._TRANSPORT === 'stdout'); // its stdout and stderr, not systemd's lines about it
    // journald took each <N> prefix as the priority: none is left in a message, none is JSON
    expect(own.filter((e) => /^<\d>|^\{"level"/.test(String(e.MESSAGE)))).toEqual([]);
    expect(own.filter((e) => e.PRIORITY === '6').map((e) => e.MESSAGE)).toContainEqual(expect.stringMatching(/^autoharden \S+ daemon starting/));
    const errors = own.filter((e) => Number(e.PRIORITY) <= 3).map((e) => String(e.MESSAGE));
    expect(errors.filter((l) => !/failed: probe tcp:\/\/127\.0\.0\.1:9 fails before any change/.test(l))).toEqual([]);
    // -p err selects by that priority
    const selected = (await box.check('journalctl -u autoharden.service -p err -o cat --no-pager')).trim().split('\n').filter(Boolean);
    expect(selected.length).toBeGreaterThanOrEqual(errors.length);
    for (const e of errors) expect(selected).toContain(e);
  });
});

// A listener that adds match rules for everything org.autoharden1 sends (also by interface alone,
// and eavesdropping where the bus lets it) and prints what it got.
const LISTENER = `
import dbus from '${SRC_IN_BOX}/node_modules/dbus-next/index.js';
const { systemBus, Message, MessageType } = dbus;
const bus = systemBus();
const signals = [];
let ready = false;
bus.on('message', (m) => {
  if (m.type === MessageType.SIGNAL && m.interface === 'org.autoharden1.Manager') signals.push([m.member, ...m.body].join(' '));
});
const add = (rule) => bus.call(new Message({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus',
  interface: 'org.freedesktop.DBus', member: 'AddMatch', signature: 's', body: [rule] }));
await add("type='signal',sender='org.autoharden1'");
await add("type='signal',interface='org.autoharden1.Manager'");
await add("type='signal',interface='org.autoharden1.Manager',eavesdrop='true'").catch(() => {});
ready = true;
setTimeout(() => { process.stdout.write(JSON.stringify({ ready, signals })); process.exit(0); }, Number(process.argv[2]));
`;
