// Issue 9, measured on main: six unauthenticated requests from a remote host for /d/ (a directory
// without an index: nginx logs it at error level with the request's Referer) carrying errno-like
// text made the guard relax nginx from 2.3 to 4.3, and the same requests during tuning left it
// at 7.7. Here Debian's nginx is tuned in quiet (the reference), then enrolled with the daemon
// while a remote client sends those requests twice a second from the moment its tune took its
// baseline, then sent six more while guarded: same set as in quiet, nothing relaxed, an alert.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, type Noise, type ReadWatch, type Remote, BOX_ADDRESS, SRC_IN_BOX, boxName, startBox, waitFor } from '../harness/box.js';

interface Outcome { option: string; value: string }
interface Report { exposureAfter: number; accepted: Outcome[] }
interface Row { unit: string; state: string; exposureAfter: number | null; accepted: string[]; report?: Report }
interface Setting { option: string; value: string; lines: string[] }
interface Rec { kind: string; t: string; by?: string; verdict?: string; settings?: Setting[]; options?: string[]; reason?: string; evidence?: string[] }

const NGINX = 'nginx.service';
const PROBE = 'http://127.0.0.1/';
const SETTLE = '500ms';
const REFERER = 'x open() "//etc/cron.d/p" failed (30: Read-only file system) (13: Permission denied) EPERM';
// Where nginx's state may live: a learned ReadWritePaths= must stay under these.
const SCOPE = ['/var/log/nginx', '/var/lib/nginx', '/var/cache/nginx', '/var/spool/nginx', '/run/nginx'];

let box: Box;
let remote: Remote;
let accessReads: ReadWatch | undefined;
let quiet: Report;
let quietRecs: Rec[];

const cli = async (args: string[], timeoutMs = 60_000) => {
  const r = await box.cli(args, { timeoutMs });
  expect(r.code, `autoharden ${args.join(' ')}\n${r.stderr.slice(-2000)}`).toBe(0);
  return r.stdout;
};
const journal = async (): Promise<Rec[]> => JSON.parse(await cli(['journal', NGINX, '--json'])) as Rec[];
const sinceBegin = (recs: Rec[]) => recs.slice(recs.map((r) => r.kind).lastIndexOf('tune-begin'));
const names = (xs: Array<{ option: string; value: string }>) => xs.map((x) => `${x.option}=${x.value}`).sort();
const row = async () => (JSON.parse(await cli(['status', '--json'])) as Row[]).find((r) => r.unit === NGINX);

async function exposure(): Promise<number> {
  const out = await box.check(['systemd-analyze', 'security', '--no-pager', NGINX]);
  return Number(/Overall exposure level for \S+: (\d+\.\d+)/.exec(out)?.[1] ?? NaN);
}

function triedDirs(recs: Rec[]): string[] {
  const out = new Set<string>();
  for (const r of recs) for (const s of r.settings ?? []) {
    if (s.option !== 'ProtectSystem') continue;
    for (const l of s.lines) if (l.startsWith('ReadWritePaths=')) for (const p of l.slice(15).split(/\s+/)) if (p) out.add(p.replace(/^[-+]+/, ''));
  }
  return [...out];
}
const outOfScope = (dirs: string[]) => dirs.filter((d) => !SCOPE.some((s) => d === s || d.startsWith(`${s}/`)));

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url));
  remote = await box.remote();
  await box.check('mkdir -p /var/www/html/d && systemctl restart nginx');
  const r = await remote.http(`http://${BOX_ADDRESS}/d/`);
  expect(r.status).toBe(403); // a directory without an index: logged at error level, with the Referer
  await box.check(['sh', `${SRC_IN_BOX}/scripts/daemon-install.sh`]);
  accessReads = await box.watchReads('/var/log/nginx/access.log'); // from before the first tune
}, 90_000);

afterAll(async () => {
  await accessReads?.stop();
  await box?.stop();
});

describe('nginx tuned in quiet, then enrolled while a remote client sends crafted requests', () => {
  let noisy: Row;
  let noisyRecs: Rec[];
  let sent = 0;

  beforeAll(async () => {
    quiet = JSON.parse(await cli(['tune', NGINX, '--probe', PROBE, '--settle', SETTLE, '--strategy', 'adaptive', '--json'], 400_000)) as Report;
    quietRecs = sinceBegin(await journal());
    await cli(['rollback', NGINX, '--all', '--settle', SETTLE]);

    const since = (await box.check(['date', '+%s.%N'])).trim();
    await cli(['enroll', NGINX, '--probe', PROBE, '--settle', SETTLE]);
    let noise: Noise | undefined;
    try {
      // from the first trial on, as in the issue (a baseline that already held the lines would hide them)
      await waitFor(async () => sinceBegin(await journal()).some((x) => x.kind === 'trial-begin' && Date.parse(x.t) / 1000 > Number(since)),
        120_000, { what: 'the first trial', intervalMs: 250 });
      noise = remote.noise(`http://${BOX_ADDRESS}/d/`, { referer: REFERER, perSecond: 2, seconds: 480 });
      await waitFor(async () => ['guarding', 'failed'].includes((await row())?.state ?? ''), 480_000, { what: 'tuning over', intervalMs: 1000 });
    } finally {
      sent = (await noise?.stop())?.sent ?? 0;
    }
    noisy = (await row())!;
    noisyRecs = sinceBegin(await journal());
  }, 960_000);

  it('was under noise: the crafted lines reached error.log during the tune', async () => {
    expect(sent).toBeGreaterThan(40);
    const log = (await box.readFile('/var/log/nginx/error.log')) ?? '';
    expect(log.split("\n").filter((l) => l.includes(`referrer: "${REFERER}"`)).length).toBeGreaterThan(20); // requests that land during a restart are refused, never logged
  });

  it('reaches the same set as in quiet, the same exposure', async () => {
    expect(noisy.state).toBe('guarding');
    expect(quiet.accepted.length).toBeGreaterThan(10);
    expect([...noisy.accepted].sort()).toEqual(names(quiet.accepted));
    expect(Math.abs((noisy.exposureAfter ?? NaN) - quiet.exposureAfter)).toBeLessThanOrEqual(0.1 + 1e-9);
  });

  it('learned no path outside nginx\'s own, read no access log, rejected nothing for a client\'s line', async () => {
    const all = [...quietRecs, ...noisyRecs];
    expect(outOfScope(triedDirs(all))).toEqual([]);
    expect(await accessReads!.count()).toBe(0);
    const evidence = all.filter((r) => r.kind === 'trial-end' || r.kind === 'alert').flatMap((r) => [...(r.evidence ?? []), r.reason ?? '']);
    expect(evidence.filter((l) => l.includes('access.log'))).toEqual([]);
    const byClient = noisyRecs.filter((r) => r.kind === 'trial-end' && r.verdict === 'log-error' && (r.evidence ?? []).some((l) => l.includes('referrer:')));
    expect(byClient.map((r) => r.reason)).toEqual([]);
  });
});

describe('nginx guarded, six crafted requests from the remote host', () => {
  it('raises an alert and relaxes nothing', async () => {
    const was = { accepted: (await row())!.accepted, exposure: await exposure(), dropin: await box.readFile(`/etc/systemd/system/${NGINX}.d/zz-autoharden-50-accepted.conf`) };
    expect(was.accepted.length).toBeGreaterThan(10);
    // A fresh daemon: the tail of the tune's noise may have raised this alert already, and one
    // kind of alert is said once an hour; after a restart the six requests' own alert shows
    // that the guard has handled them.
    await box.check('systemctl restart autoharden.service');
    await waitFor(async () => (await row())?.state === 'guarding', 30_000, { what: 'guarding again', intervalMs: 500 });
    const n = (await journal()).length;
    const six = await remote.noise(`http://${BOX_ADDRESS}/d/`, { referer: REFERER, perSecond: 2, seconds: 3 }).done;
    expect(six.sent).toBe(6);
    expect(six.answered).toBe(6);
    const alert = await waitFor(async () => (await journal()).slice(n).find((r) => r.kind === 'alert'), 30_000, { what: 'an alert', intervalMs: 500 });
    expect(alert.by).toBe('guard');
    expect([alert.reason ?? '', ...(alert.evidence ?? [])].some((l) => l.includes('cron.d'))).toBe(true);
    const after = (await journal()).slice(n);
    expect(after.filter((r) => r.kind === 'rollback')).toEqual([]);
    expect({ accepted: (await row())!.accepted, exposure: await exposure(), dropin: await box.readFile(`/etc/systemd/system/${NGINX}.d/zz-autoharden-50-accepted.conf`) }).toEqual(was);
    expect((await box.show(NGINX, ['ActiveState'])).ActiveState).toBe('active');
    expect((await remote.http(`http://${BOX_ADDRESS}/`)).status).toBe(200);
  }, 90_000);
});
