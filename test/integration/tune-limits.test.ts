// --max-restarts and --max-time against a real systemd: the sample tuned with a restart budget stops
// early with a verified set in force (exit 0, "complete": false, journaled), and a small time span
// stops before any trial it could not finish.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { optionByName } from '../../src/core/catalog.js';
import { type Box, SAMPLE_UNIT, SAMPLE_URL, boxName, startBox } from '../harness/box.js';

const ACCEPTED_ETC = `/etc/systemd/system/${SAMPLE_UNIT}.d/zz-autoharden-50-accepted.conf`;

interface Report {
  restarts: number; trials: number; complete: boolean; stoppedBy?: string;
  accepted: Array<{ option: string; value: string }>;
}

let box: Box;

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url));
  await box.installSample();
}, 60_000);

afterAll(async () => {
  await box?.stop();
});

/** The unit's invocations since `cursor` (systemd's own lines carry INVOCATION_ID, the service's
 * _SYSTEMD_INVOCATION_ID): every restart makes one, a start that fails too. */
async function invocationsSince(cursor: string): Promise<Set<string>> {
  const out = await box.check(['journalctl', '-u', SAMPLE_UNIT, '--after-cursor', cursor, '-o', 'json', '--output-fields=INVOCATION_ID,_SYSTEMD_INVOCATION_ID']);
  const ids = new Set<string>();
  for (const line of out.split('\n').filter(Boolean)) {
    const r = JSON.parse(line) as Record<string, unknown>;
    for (const k of ['INVOCATION_ID', '_SYSTEMD_INVOCATION_ID']) if (typeof r[k] === 'string') ids.add(r[k]);
  }
  return ids;
}

const cursorNow = async () => (await box.check(['journalctl', '-n', '0', '--show-cursor', '-q'])).replace(/^-- cursor: /m, '').trim();

describe('tune with limits', () => {
  it('--max-restarts 4: stops early, exit 0, restarts within 4, the set in force is the one reported', async () => {
    const before = (await box.show(SAMPLE_UNIT, ['InvocationID'])).InvocationID!;
    const cursor = await cursorNow();
    const r = await box.cli(['tune', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--settle', '1s', '--max-restarts', '4', '--json'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.complete).toBe(false);
    expect(report.stoppedBy).toMatch(/^--max-restarts 4 reached \(\d+ left; the next step needs \d+ and the finish \d+ more\)$/);
    expect(report.restarts).toBeLessThanOrEqual(4);
    expect(report.restarts).toBeGreaterThan(0);
    // systemd's count, not ours: the invocations the unit went through, the one it ran before aside
    const ids = await invocationsSince(cursor);
    ids.delete(before);
    expect(ids.size).toBeGreaterThan(0);
    expect(ids.size).toBeLessThanOrEqual(4);
    expect(r.stderr).toMatch(/stopping early: --max-restarts 4 reached/);

    // the sample answers, with no trial left behind, and what is in force is what the report kept
    expect((await box.http(SAMPLE_URL)).status).toBe(200);
    expect((await box.sh(`ls /run/systemd/system/${SAMPLE_UNIT}.d/ 2>/dev/null | grep -c trial`)).stdout.trim()).toBe('0');
    const dropin = (await box.readFile(ACCEPTED_ETC)) ?? '';
    const keys = new Set([...dropin.matchAll(/^([A-Za-z]+)=/gm)].map((m) => m[1]!));
    for (const a of report.accepted) expect(keys, a.option).toContain(a.option);
    // a catalog option in force that the report did not keep would be a set nobody verified
    const extra = [...keys].filter((k) => optionByName(k) && !report.accepted.some((a) => a.option === k));
    expect(extra).toEqual([]);
    expect(report.accepted.length > 0).toBe(dropin !== '');

    const journal = await box.cli(['journal', SAMPLE_UNIT]);
    expect(journal.code).toBe(0);
    expect(journal.stdout).toMatch(/stopped early: --max-restarts 4 reached \(.*\); what was kept is verified/);
    const records = JSON.parse((await box.cli(['journal', SAMPLE_UNIT, '--json'])).stdout) as Array<Record<string, unknown>>;
    expect(records.at(-1)).toMatchObject({ kind: 'tune-end', complete: false, stoppedBy: expect.stringMatching(/^--max-restarts 4 reached \(/) });
  }, 150_000);

  it('--max-time 5s: a trial and its confirmation cannot fit, so it stops before them, exit 0', async () => {
    const r = await box.cli(['tune', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--settle', '2s', '--max-time', '5s', '--json'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.complete).toBe(false);
    expect(report.stoppedBy).toBe('--max-time 5s reached');
    expect(r.stderr).toMatch(/stopping early: --max-time 5s reached/);
    expect((await box.http(SAMPLE_URL)).status).toBe(200);
  }, 120_000);
});
