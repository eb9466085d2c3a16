// `autoharden tune` stopped by a signal mid-trial, against a real systemd: SIGINT twice (the
// second while it reverts), SIGTERM, SIGHUP with stdout and stderr a broken pipe, and SIGHUP
// from a terminal that hung up (a dropped ssh session). Each must revert the trial itself — no trial drop-in left, `recovered` journaled, the
// sample running its accepted set and answering — and exit 128 + the signal's number.
// AUTOHARDEN_FAULT=after-reload:1:SIG sends the first signal once the first trial's drop-in is in
// force: the engine sees it at its next check, the settle wait after the restart, so the trial is
// open when it stops. (At during-settle the sample may already have died of the trial, and then
// the trial's verdict comes before the next check: it is journaled, and the revert that follows
// writes no `recovered`. Correct too, but not one outcome to assert.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptedSet, type JournalRecord } from '../../src/core/journal.js';
import { type Box, SAMPLE_UNIT, SAMPLE_URL, SRC_IN_BOX, boxName, startBox } from '../harness/box.js';

const TRIAL = `/run/systemd/system/${SAMPLE_UNIT}.d/zz-autoharden-90-trial.conf`;
const ACCEPTED = ['/run', '/etc'].map((d) => `${d}/systemd/system/${SAMPLE_UNIT}.d/zz-autoharden-50-accepted.conf`);
const TUNE = `node ${SRC_IN_BOX}/dist/cli/main.js tune ${SAMPLE_UNIT} --probe ${SAMPLE_URL} --settle 500ms`;
/** Properties the first trial's options set, and the untuned unit's values of them. */
const PROPS = ['NoNewPrivileges', 'ProtectSystem', 'ProtectHome', 'PrivateTmp', 'PrivateDevices', 'SystemCallFilter', 'CapabilityBoundingSet', 'RestrictAddressFamilies'];

let box: Box;
let untuned: Record<string, string>;

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url));
  await box.installSample();
  untuned = await box.show(SAMPLE_UNIT, PROPS);
}, 60_000);

afterAll(async () => {
  await box?.stop();
});

/** Runs a shell script that prints rc=N (and other k=v lines) on stdout. */
async function script(sh: string): Promise<{ vars: Record<string, string>; stderr: string }> {
  const r = await box.sh(sh, { timeoutMs: 150_000 });
  expect(r.timedOut).toBe(false);
  const vars = Object.fromEntries([...r.stdout.matchAll(/^(\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  return { vars, stderr: r.stderr };
}

/** What every interrupted run must leave: the trial it stopped in reverted by itself. */
async function expectReverted(sig: string): Promise<void> {
  expect(await box.readFile(TRIAL)).toBeNull();
  const j = await box.cli(['journal', SAMPLE_UNIT, '--json']);
  expect(j.code, j.stderr).toBe(0);
  const recs = JSON.parse(j.stdout) as JournalRecord[];
  const last = recs.at(-1)!;
  expect(last.kind).toBe('recovered');
  const open = recs.filter((r) => r.kind === 'trial-begin').at(-1)!;
  if (last.kind !== 'recovered' || open.kind !== 'trial-begin') return;
  expect(last.trial).toBe(open.trial);
  expect(last.reason).toContain(sig);
  expect(recs.some((r) => r.kind === 'trial-end' && r.trial === open.trial)).toBe(false);

  // Stopped in its first trial: nothing was ever accepted, so the unit runs as it was installed.
  expect(acceptedSet(recs)).toEqual([]);
  for (const f of ACCEPTED) expect(await box.readFile(f)).toBeNull();
  expect(await box.show(SAMPLE_UNIT, PROPS)).toEqual(untuned);
  expect((await box.show(SAMPLE_UNIT, ['ActiveState'])).ActiveState).toBe('active');
  expect((await box.http(SAMPLE_URL)).status).toBe(200);
  // The process itself was restarted out of the trial: the trial set no_new_privs, it has none.
  expect(open.settings.map((s) => s.option)).toContain('NoNewPrivileges');
  const pid = (await box.show(SAMPLE_UNIT, ['MainPID'])).MainPID;
  expect(await box.check(['grep', '^NoNewPrivs:', `/proc/${pid}/status`])).toMatch(/NoNewPrivs:\s+0/);
}

describe('tune interrupted mid-trial', () => {
  it('by SIGINT twice: the second, sent while it reverts, is reported and ignored; exit 130', async () => {
    const { vars, stderr } = await script(`
      AUTOHARDEN_FAULT=after-reload:1:SIGINT ${TUNE} >/tmp/int.out 2>/tmp/int.err &
      pid=$!
      n=0
      until grep -q 'bringing the unit back' /tmp/int.err || [ $n -ge 1200 ]; do n=$((n+1)); sleep 0.05; done
      kill -INT $pid; echo second=$?
      wait $pid; echo rc=$?
      cat /tmp/int.err >&2`);
    expect(vars.second, stderr).toBe('0'); // it was still running, reverting
    expect(vars.rc, stderr).toBe('130');
    expect(stderr).toMatch(/SIGINT: stopping at the next safe point/);
    expect(stderr).toMatch(/SIGINT: already reverting; wait/);
    expect(stderr).toMatch(/interrupted by SIGINT; the unfinished trial was reverted/);
    await expectReverted('SIGINT');
  }, 180_000);

  it('by SIGTERM: exit 143', async () => {
    const { vars, stderr } = await script(`AUTOHARDEN_FAULT=after-reload:1:SIGTERM ${TUNE} >/dev/null 2>/tmp/term.err; echo rc=$?; cat /tmp/term.err >&2`);
    expect(vars.rc, stderr).toBe('143');
    await expectReverted('SIGTERM');
  }, 180_000);

  it('by SIGHUP with stdout and stderr a pipe nobody reads (EPIPE on every write): exit 129', async () => {
    // fd 4 is the write end of a FIFO whose only reader is closed before the tune starts.
    const { vars, stderr } = await script(`
      rm -f /tmp/hup.fifo && mkfifo /tmp/hup.fifo
      exec 3<>/tmp/hup.fifo 4>/tmp/hup.fifo 3<&-
      AUTOHARDEN_FAULT=after-reload:1:SIGHUP ${TUNE} >&4 2>&4; echo rc=$?`);
    expect(vars.rc, stderr).toBe('129');
    await expectReverted('SIGHUP');
  }, 180_000);

  it('by a terminal that hangs up (ssh dropped: SIGHUP, then EIO on every write): exit 129', async () => {
    // The tune runs on a pseudo-terminal (script); the fault stops it in its first trial;
    // then the terminal goes away and it gets SIGHUP, as a login shell passes it on.
    const { vars, stderr } = await script(`
      rm -f /tmp/pty.rc
      script -qfc "sh -c 'trap \\"\\" HUP; AUTOHARDEN_FAULT=after-reload:1:SIGSTOP ${TUNE}; echo rc=\\$? > /tmp/pty.rc'" /tmp/pty.out >/dev/null </dev/null &
      spid=$!
      n=0
      until pid=$(pgrep -f '^node .*/dist/cli/main.js tune') && grep -q '^State:.*T' /proc/$pid/status || [ $n -ge 1200 ]; do n=$((n+1)); sleep 0.05; done
      echo stopped=$(grep -c '^State:.*T' /proc/$pid/status)
      kill -9 $spid; wait $spid
      kill -HUP $pid; kill -CONT $pid
      n=0
      until [ -s /tmp/pty.rc ] || [ $n -ge 2400 ]; do n=$((n+1)); sleep 0.05; done
      cat /tmp/pty.rc`);
    expect(vars.stopped, stderr).toBe('1');
    expect(vars.rc, stderr).toBe('129'); // Node 20 would abort (134) restoring the dead terminal's modes
    await expectReverted('SIGHUP');
  }, 180_000);
});
