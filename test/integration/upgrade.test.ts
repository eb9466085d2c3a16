// After an upgrade, on the host's systemd 252: the sample is enrolled and tuned by the daemon; its
// journal is then made to say what an upgrade leaves behind (the tune recorded systemd 251) and
// the daemon restarted. It re-verifies the accepted set exactly once — one restart of the service,
// one reverify record — tries nothing new, and the service still serves. Another restart of the
// daemon does not repeat it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, SAMPLE_UNIT, SAMPLE_URL, SRC_IN_BOX, boxName, startBox, waitFor } from '../harness/box.js';

const JOURNAL = `/var/lib/autoharden/journal/${SAMPLE_UNIT}.jsonl`;
/** systemd's "unit started" message (sd-messages.h SD_MESSAGE_UNIT_STARTED). */
const UNIT_STARTED = '39f53479d3a045ac8e11786248231fbf';

interface Rec { kind: string; t: string; outcome?: string; changes?: string[]; options?: string[]; platform?: { systemd: number }; from?: { systemd: number } }
interface Row { unit: string; state: string; accepted: string[]; verifiedOn?: string; reverify?: string }

let box: Box;

async function ok(args: string[]): Promise<string> {
  const r = await box.cli(args, { timeoutMs: 120_000 });
  expect(r.code, `autoharden ${args.join(' ')}\n${r.stderr.slice(-1500)}`).toBe(0);
  return r.stdout;
}
const journal = async (): Promise<Rec[]> => JSON.parse(await ok(['journal', SAMPLE_UNIT, '--json'])) as Rec[];
const row = async (): Promise<Row> => (JSON.parse(await ok(['status', SAMPLE_UNIT, '--json'])) as Row[])[0]!;

/** Starts of the sample since `since` (seconds since the epoch), as systemd journaled them. */
async function startsSince(since: number): Promise<number> {
  const out = await box.check(['journalctl', '--no-pager', '-o', 'cat', `--since=@${since}`, `MESSAGE_ID=${UNIT_STARTED}`, `UNIT=${SAMPLE_UNIT}`]);
  return out.split('\n').filter((l) => l.trim()).length;
}
const boxNow = async () => Number((await box.check(['date', '+%s'])).trim());

/** What an upgrade from 251 leaves in the journal: the last tune recorded the older systemd. */
const AGE_JOURNAL = `
const fs = require('fs');
const p = process.argv[1];
const lines = fs.readFileSync(p, 'utf8').split('\\n');
let i = -1;
lines.forEach((l, k) => { if (l.trim() && JSON.parse(l).kind === 'tune-begin') i = k; });
const r = JSON.parse(lines[i]);
r.platform = { ...(r.platform || {}), systemd: 251 };
lines[i] = JSON.stringify(r);
fs.writeFileSync(p, lines.join('\\n'));
`;

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url, 'up'));
  await box.installSample();
  await box.check(['sh', `${SRC_IN_BOX}/scripts/daemon-install.sh`]);
  const r = await box.cli(['enroll', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--settle', '500ms', '--wait'], { timeoutMs: 400_000 });
  expect(r.code, r.stderr.slice(-2000)).toBe(0);
  expect((await row()).state).toBe('guarding');
}, 480_000);

afterAll(async () => {
  await box?.stop();
});

describe('after an upgrade of systemd', () => {
  it('re-verifies the accepted set once: one restart, one reverify record, still serving; not repeated', async () => {
    const before = await row();
    expect(before.accepted.length).toBeGreaterThan(3);
    expect(before.verifiedOn).toMatch(/^systemd 252\b/);
    const trials = (await journal()).filter((x) => x.kind === 'trial-begin').length;

    await box.check(['systemctl', 'stop', 'autoharden.service']);
    await box.check(['node', '-e', AGE_JOURNAL, JOURNAL]);
    const since = await boxNow();
    await box.check(['systemctl', 'start', 'autoharden.service']);

    await waitFor(async () => (await journal()).some((x) => x.kind === 'reverify'), 120_000, { what: 'a reverify record', intervalMs: 500 });
    const rv = (await journal()).filter((x) => x.kind === 'reverify');
    expect(rv).toHaveLength(1);
    expect(rv[0]).toMatchObject({ outcome: 'ok', options: [], changes: ['systemd 251 → 252'], from: { systemd: 251 }, platform: { systemd: 252 } });
    expect(await startsSince(since)).toBe(1);
    expect((await box.http(SAMPLE_URL)).status).toBe(200);
    const after = await row();
    expect(after.state).toBe('guarding');
    expect(after.accepted).toEqual(before.accepted);
    expect(after.verifiedOn).toMatch(/^systemd 252\b.*re-verified at/);
    expect(after.reverify).toMatch(/^re-verified at .* after systemd 251 → 252: ok$/);
    const text = await ok(['status', SAMPLE_UNIT]);
    expect(text).toMatch(/verified on: systemd 252/);
    expect(text).toMatch(/re-verified at/);
    // nothing new tried
    expect((await journal()).filter((x) => x.kind === 'trial-begin')).toHaveLength(trials);

    // the next start of the daemon has nothing to re-verify
    const again = await boxNow();
    await box.check(['systemctl', 'restart', 'autoharden.service']);
    await waitFor(async () => (await row()).state === 'guarding', 30_000, { what: 'guarding again', intervalMs: 500 });
    expect((await journal()).filter((x) => x.kind === 'reverify')).toHaveLength(1);
    expect(await startsSince(again)).toBe(0);
    expect((await box.http(SAMPLE_URL)).status).toBe(200);
  }, 300_000);

  it('enroll --retune tunes it again through the daemon, with the options it was enrolled with', async () => {
    const plain = await box.cli(['enroll', SAMPLE_UNIT, '--probe', SAMPLE_URL]);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toMatch(/already enrolled/);
    const other = await box.cli(['enroll', SAMPLE_UNIT, '--retune', '--probe', 'tcp://127.0.0.1:81']);
    expect(other.code, other.stderr).toBe(2);
    expect(other.stderr).toMatch(/enrolled with other options \(probes\)/);
    const begins = (await journal()).filter((x) => x.kind === 'tune-begin').length;
    const before = await row();
    const r = await box.cli(['enroll', SAMPLE_UNIT, '--retune', '--probe', SAMPLE_URL, '--settle', '500ms', '--wait'], { timeoutMs: 400_000 });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    // the tune starts from the set in force and tries what is not in force yet
    expect(r.stdout).toMatch(/autoharden-sample\.service: exposure \d\.\d \w+ → \d\.\d/);
    expect(r.stderr).toMatch(/trial #\d+/);
    const recs = await journal();
    expect(recs.filter((x) => x.kind === 'tune-begin')).toHaveLength(begins + 1);
    expect(recs.filter((x) => x.kind === 'tune-begin').at(-1)!.platform).toMatchObject({ systemd: 252 });
    const after = await row();
    expect(after.state).toBe('guarding');
    expect(after.accepted).toEqual(expect.arrayContaining(before.accepted));
    expect(after.verifiedOn).toMatch(/^systemd 252\b.*\(tuned at/);
    expect(after.reverify).toBeUndefined();
    expect((await box.http(SAMPLE_URL)).status).toBe(200);
  }, 480_000);
});
