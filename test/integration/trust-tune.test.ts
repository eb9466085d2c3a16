// Issue 9, tuning under hostile text: the bundled sample in hostile mode (sample/README.md) tuned
// twice — once in quiet, once while the service itself logs forged errno-like lines twice a
// second (noise-on, started after the tune took its baseline) and a remote client puts crafted
// text into its logs through the URL and the Referer (access.log, and error.log as nginx logs a
// missing file). The noise must change nothing: same accepted set, same exposure, no learned
// writable path outside the sample's own directories, and the access log never read at all
// (box.watchReads: an inotify watch on it counts every read).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, type Noise, type ReadWatch, type Remote, BOX_ADDRESS, SAMPLE_UNIT, SAMPLE_URL, boxName, startBox, waitFor } from '../harness/box.js';

interface Outcome { option: string; value: string; reason: string }
interface Report { exposureBefore: number; exposureAfter: number; trials: number; restarts: number; accepted: Outcome[]; rejected: Outcome[] }
interface Setting { option: string; value: string; lines: string[] }
interface Rec { kind: string; t: string; trial?: number; settings?: Setting[]; outcome?: string; verdict?: string; reason?: string; evidence?: string[] }

const LOG_DIR = '/var/log/autoharden-sample';
const ACCESS_LOG = `${LOG_DIR}/access.log`;
const ERROR_LOG = `${LOG_DIR}/error.log`;
/** The only directories a learned ReadWritePaths= of the sample may name. */
const ALLOWED = ['/var/lib/autoharden-sample', '/var/log/autoharden-sample'];
const SETTLE = '800ms';
// The request: nginx logs it with the Referer; the sample logs it like that in error.log.
const REFERER = 'x open() "//etc/cron.d/p" failed (30: Read-only file system) (13: Permission denied) EPERM';
// A URL with the same kind of text (no spaces: it is a request line; no dot segments: the client drops them).
const CRAFTED_PATH = '/d//etc/cron.d/x:EROFS:EPERM(13:Permission-denied)';

let box: Box;
let remote: Remote;
let accessReads: ReadWatch | undefined;
const names = (xs: Outcome[]) => xs.map((x) => `${x.option}=${x.value}`).sort();
const journal = async (): Promise<Rec[]> => JSON.parse(await box.check(['node', '/run/autoharden-src/dist/cli/main.js', 'journal', SAMPLE_UNIT, '--json'])) as Rec[];
const sinceBegin = (recs: Rec[]) => recs.slice(recs.map((r) => r.kind).lastIndexOf('tune-begin'));

/** A tune's exit status, stderr's tail and report (when it finished). */
async function tune(): Promise<{ code: number; stderr: string; report?: Report }> {
  const r = await box.cli(['tune', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--settle', SETTLE, '--strategy', 'adaptive', '--json'], { timeoutMs: 420_000 });
  return { code: r.code, stderr: r.stderr.slice(-3000), ...(r.code === 0 ? { report: JSON.parse(r.stdout) as Report } : {}) };
}

/** Every directory a ProtectSystem setting of these records made writable. */
function learnedDirs(recs: Rec[]): string[] {
  const out = new Set<string>();
  for (const r of recs) {
    for (const s of r.settings ?? []) {
      if (s.option !== 'ProtectSystem') continue;
      for (const l of s.lines) if (l.startsWith('ReadWritePaths=')) for (const p of l.slice(15).split(/\s+/)) if (p) out.add(p.replace(/^[-+]+/, ''));
    }
  }
  return [...out].sort();
}

let quiet: Report;
let noisy: Awaited<ReturnType<typeof tune>>;
let quietRecs: Rec[];
let noisyRecs: Rec[];
let noiseSince = '';
let clients: Array<{ sent: number; answered: number }> = [];
let readsWhileTuning = NaN;

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url));
  remote = await box.remote();
  await box.hostileSample();
  expect((await remote.http(`http://${BOX_ADDRESS}:81/`)).status).toBe(200);
  accessReads = await box.watchReads(ACCESS_LOG); // from before the first tune
}, 90_000);

afterAll(async () => {
  await accessReads?.stop();
  await box?.stop();
});

describe('the hostile sample tuned in quiet, then under its own and its clients\' noise', () => {
  beforeAll(async () => {
    const q = await tune();
    expect(q.code, q.stderr).toBe(0);
    quiet = q.report!;
    quietRecs = sinceBegin(await journal());
    const rb = await box.cli(['rollback', SAMPLE_UNIT, '--all', '--settle', SETTLE]);
    expect(rb.code, rb.stderr).toBe(0);

    // The noise starts once the tune has taken its baseline (its first trial began), as in the
    // issue: a baseline that already holds the lines would hide them.
    noiseSince = (await box.check(['date', '+%s.%N'])).trim();
    const run = tune();
    let noise: Noise[] = [];
    try {
      await waitFor(async () => sinceBegin(await journal()).some((r) => r.kind === 'trial-begin' && Date.parse(r.t) / 1000 > Number(noiseSince)),
        120_000, { what: 'the noisy tune\'s first trial', intervalMs: 250 });
      await waitFor(async () => box.hostile('noise-on').then(() => true), 30_000, { what: 'noise-on', intervalMs: 300 });
      noise = [
        remote.noise(`http://${BOX_ADDRESS}:81/d/`, { referer: REFERER, perSecond: 2, seconds: 420 }),
        remote.noise(`http://${BOX_ADDRESS}:81${CRAFTED_PATH}`, { perSecond: 2, seconds: 420 }),
      ];
      noisy = await run;
    } finally {
      clients = await Promise.all(noise.map((n) => n.stop()));
      await run.catch(() => undefined);
      await waitFor(async () => box.hostile('noise-off').then(() => true), 30_000, { what: 'noise-off', intervalMs: 300 }).catch(() => undefined);
    }
    noisyRecs = sinceBegin(await journal());
    readsWhileTuning = await accessReads!.count(); // before this test reads the file itself
  }, 900_000);

  it('was noisy: forged lines in the journal and error.log, client text in both of its logs', async () => {
    expect(quiet.accepted.length).toBeGreaterThan(10); // the quiet run did tune
    for (const c of clients) {
      expect(c.sent).toBeGreaterThan(40);
      expect(c.answered).toBeGreaterThan(20);
    }
    const logs = await box.check(['journalctl', '-q', '--no-pager', '-o', 'cat', '-u', SAMPLE_UNIT, `--since=@${noiseSince}`]);
    expect(logs).toContain('open() "//etc/cron.d/p" failed (30: Read-only file system)');
    expect(logs).toContain('Failed at step NAMESPACE spawning /usr/bin/node: Read-only file system');
    const errorLog = (await box.readFile(ERROR_LOG)) ?? '';
    expect(errorLog).toMatch(/\*\d+ \/\.\/etc\/x: EROFS/);
    expect(errorLog).toContain(`referrer: "${REFERER}"`);
    expect(errorLog).toContain(`request: "GET ${CRAFTED_PATH} HTTP/1.1"`);
    expect((await box.readFile(ACCESS_LOG)) ?? '').toContain(REFERER);
  });

  it('reaches the same accepted set and exposure as in quiet', () => {
    expect(noisy.code, noisy.stderr).toBe(0);
    // figures for the record: what noise costs (restarts) and what it does not (settings)
    console.log(`trust-tune: quiet ${quiet.exposureBefore} → ${quiet.exposureAfter}, ${quiet.trials} trials, ${quiet.restarts} restarts; `
      + `noisy ${noisy.report!.exposureBefore} → ${noisy.report!.exposureAfter}, ${noisy.report!.trials} trials, ${noisy.report!.restarts} restarts`);
    expect(names(noisy.report!.accepted)).toEqual(names(quiet.accepted));
    expect(Math.abs(noisy.report!.exposureAfter - quiet.exposureAfter)).toBeLessThanOrEqual(0.1 + 1e-9);
  });

  it('never learns a writable path outside the sample\'s own directories', async () => {
    // No trial ever opened anything else for writing (a trial runs the hostile service too) …
    const tried = learnedDirs([...quietRecs, ...noisyRecs]);
    expect(tried.filter((d) => !ALLOWED.some((a) => d === a || d.startsWith(`${a}/`)))).toEqual([]);
    expect(tried).toContain('/var/lib/autoharden-sample'); // it did learn: from its exit-10 EROFS
    // … and what was kept is exactly among the two directories it writes.
    const kept = (xs: Outcome[]) => xs.flatMap((r) => (/ReadWritePaths=(.*)$/.exec(r.value)?.[1] ?? '').split(/\s+/)).filter(Boolean).map((p) => p.replace(/^[-+]+/, ''));
    expect(kept(quiet.accepted).filter((p) => !ALLOWED.includes(p))).toEqual([]);
    expect(kept(noisy.report?.accepted ?? []).filter((p) => !ALLOWED.includes(p))).toEqual([]);
    const eff = (await box.show(SAMPLE_UNIT, ['ReadWritePaths'])).ReadWritePaths ?? '';
    expect(eff.split(/\s+/).filter(Boolean).map((p) => p.replace(/^[-+]+/, '')).filter((p) => !ALLOWED.includes(p))).toEqual([]);
  });

  it('never reads the access log: no read of the file at all, no evidence from it', async () => {
    expect(readsWhileTuning).toBe(0);
    // (a skipped UMask may name the file: observation sees it open, without reading it)
    const evidence = [...quietRecs, ...noisyRecs].filter((r) => r.kind === 'trial-end' || r.kind === 'alert').flatMap((r) => [...(r.evidence ?? []), r.reason ?? '']);
    expect(evidence.filter((l) => l.includes('access.log'))).toEqual([]);
  });

  it('rejected no trial for a line the noise wrote', () => {
    const byNoise = noisyRecs.filter((r) => r.kind === 'trial-end' && r.verdict === 'log-error'
      && (r.evidence ?? []).some((l) => /\/\/etc\/cron\.d|\/\.\/etc\/x|Operation not permitted|Failed at step NAMESPACE|Bad system call|referrer:/.test(l)));
    expect(byNoise.map((r) => `#${r.trial} ${r.reason}`)).toEqual([]);
  });
});
