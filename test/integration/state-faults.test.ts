// The state directory failing under autoharden, on a real systemd: /var/lib/autoharden is a 1 MB
// tmpfs inside the box. A full disk (ENOSPC) and a read-only one (EROFS) mid-tune; the daemon on a
// full disk (I3: it keeps answering, does not crash-loop, and still leaves no trial behind: I1);
// a torn and a garbage last journal line, repaired by the next writer into a side file.
// Every fault strikes while a trial is open: after an accepted trial, at the next trial-begin.
//
// EROFS comes from a read-only bind mount over the state directory, not `mount -o remount,ro` of
// the tmpfs: the kernel refuses that with EBUSY while a file on it is open for writing, and a
// running tune always holds its lock file so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptedSet, type JournalRecord } from '../../src/core/journal.js';
import { type Box, SAMPLE_UNIT, SAMPLE_URL, SRC_IN_BOX, boxName, startBox, waitFor } from '../harness/box.js';
import { directives } from '../harness/dropin.js';

const STATE = '/var/lib/autoharden';
const JOURNAL = `${STATE}/journal/${SAMPLE_UNIT}.jsonl`;
const FILL = `${STATE}/fill`;
const TRIAL = `/run/systemd/system/${SAMPLE_UNIT}.d/zz-autoharden-90-trial.conf`;
const ACCEPTED = ['/run', '/etc'].map((d) => `${d}/systemd/system/${SAMPLE_UNIT}.d/zz-autoharden-50-accepted.conf`);
const CLI = `node ${SRC_IN_BOX}/dist/cli/main.js`;
/** Longer than the default of the tests that race nothing: a slow box must not fail a probe. */
const SETTLE = '1000ms';
// --log-format json: progress as JSON lines, so that the error line stands out (errorLines)
const TUNE = `${CLI} tune ${SAMPLE_UNIT} --probe ${SAMPLE_URL} --settle ${SETTLE} --log-format json`;
/** Shell: wait (at most 60 s) until the journal holds a trial accepted since the last tune-begin
 * and ends in a trial-begin. */
const UNTIL_OPEN_TRIAL = `
  n=0
  until { tail -n +"$(grep -n '"kind":"tune-begin"' ${JOURNAL} | tail -n 1 | cut -d: -f1)" ${JOURNAL} | grep -q '"outcome":"accepted"' \
          && tail -n 1 ${JOURNAL} | grep -q '"kind":"trial-begin"'; } 2>/dev/null || [ $n -ge 1200 ]; do
    n=$((n+1)); sleep 0.05
  done
  echo waited=$n`;

let box: Box;

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url, 'soak'));
  await box.installSample();
  await box.check(`mkdir -p ${STATE} && mount -t tmpfs -o size=1m,mode=0700 tmpfs ${STATE}`);
}, 90_000);

afterAll(async () => {
  await box?.stop();
});

async function script(sh: string, timeoutMs = 180_000): Promise<{ vars: Record<string, string>; stderr: string }> {
  const r = await box.sh(sh, { timeoutMs });
  expect(r.timedOut, r.stderr).toBe(false);
  const vars = Object.fromEntries([...r.stdout.matchAll(/^(\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  return { vars, stderr: r.stderr };
}

async function records(): Promise<JournalRecord[]> {
  const r = await box.cli(['journal', SAMPLE_UNIT, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as JournalRecord[];
}

/** Trials begun and neither ended nor recovered. */
function unfinished(recs: JournalRecord[]): number[] {
  const closed = new Set(recs.flatMap((r) => (r.kind === 'trial-end' || r.kind === 'recovered' ? [r.trial] : [])));
  return recs.flatMap((r) => (r.kind === 'trial-begin' && !closed.has(r.trial) ? [r.trial] : []));
}

/** The error lines of a CLI's stderr (its progress log is JSON with --log-format json). */
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() && !l.startsWith('{'));

/** I1 and I2 after the next command: no trial file, no trial open in the journal, the unit active
 * and answering, and its accepted drop-in exactly what the journal says (`export`), in one place. */
async function expectConsistent(): Promise<JournalRecord[]> {
  expect(await box.readFile(TRIAL)).toBeNull();
  const recs = await records();
  expect(unfinished(recs)).toEqual([]);
  expect((await box.show(SAMPLE_UNIT, ['ActiveState'])).ActiveState).toBe('active');
  expect((await box.http(SAMPLE_URL)).status).toBe(200);
  const files = (await Promise.all(ACCEPTED.map((f) => box.readFile(f)))).filter((t): t is string => t !== null);
  if (acceptedSet(recs).length === 0) {
    expect(files).toEqual([]);
  } else {
    const exported = await box.cli(['export', SAMPLE_UNIT]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(files.map(directives)).toEqual([directives(exported.stdout)]);
  }
  return recs;
}

describe('the state directory full (ENOSPC) mid-tune', () => {
  it('fails the tune with a one-line error; the next tune reverts the open trial, journals it and finishes', async () => {
    const { vars, stderr } = await script(`
      ${TUNE} >/dev/null 2>/tmp/enospc.err & pid=$!
      ${UNTIL_OPEN_TRIAL}
      dd if=/dev/zero of=${FILL} bs=4k 2>/dev/null; echo df=$(df --output=avail -k ${STATE} | tail -n 1 | tr -d ' ')
      wait $pid; echo rc=$?
      [ -e ${TRIAL} ] && echo trialLeft=1
      ${CLI} journal ${SAMPLE_UNIT} --json >/tmp/enospc.json; echo journal=$?
      rm ${FILL}
      cat /tmp/enospc.err >&2`);
    expect(Number(vars.waited)).toBeLessThan(1200);
    expect(vars.df).toBe('0');
    expect(vars.rc, stderr).toBe('1');
    const errs = errorLines(stderr);
    expect(errs, stderr).toHaveLength(1);
    expect(errs[0]).toMatch(new RegExp(`^autoharden: cannot write .*${STATE}/.*\\(ENOSPC\\)`));
    // Not asserted: the CLI's recovery on ordinary errors is being changed (issue 10); reported.
    console.log(`state-faults: ENOSPC: trial drop-in left behind by the failed tune: ${vars.trialLeft ? 'yes' : 'no'}`);

    // Readers work on the full disk; what the journal says is open is what the next run must revert.
    expect(vars.journal).toBe('0');
    const open = unfinished(JSON.parse((await box.readFile('/tmp/enospc.json'))!) as JournalRecord[]);
    const again = await box.cli(['tune', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--settle', SETTLE], { timeoutMs: 300_000 });
    expect(again.code, again.stderr.slice(-2000)).toBe(0);
    const recs = await expectConsistent();
    for (const t of open) expect(recs.some((r) => r.kind === 'recovered' && r.trial === t), `trial #${t} recovered`).toBe(true);
    expect(recs.at(-1)!.kind).toBe('tune-end');
    expect(acceptedSet(recs).length).toBeGreaterThan(5);
  }, 420_000);
});

describe('the state directory read-only (EROFS) mid-tune', () => {
  it('fails the tune with a one-line error; the next command (rollback --option) reverts the trial first', async () => {
    await box.check(['node', `${SRC_IN_BOX}/dist/cli/main.js`, 'rollback', SAMPLE_UNIT, '--all', '--settle', SETTLE], { timeoutMs: 120_000 });
    const { vars, stderr } = await script(`
      ${TUNE} >/dev/null 2>/tmp/erofs.err & pid=$!
      ${UNTIL_OPEN_TRIAL}
      mount --bind ${STATE} ${STATE} && mount -o remount,ro,bind ${STATE}; echo ro=$?
      wait $pid; echo rc=$?
      [ -e ${TRIAL} ] && echo trialLeft=1
      touch ${STATE}/x 2>/dev/null; echo touch=$?
      ${CLI} journal ${SAMPLE_UNIT} --json >/tmp/erofs.json; echo journal=$?
      umount ${STATE} || umount -l ${STATE}
      cat /tmp/erofs.err >&2`);
    expect(Number(vars.waited)).toBeLessThan(1200);
    expect(vars.ro, stderr).toBe('0');
    expect(vars.touch).not.toBe('0');
    expect(vars.rc, stderr).toBe('1');
    const errs = errorLines(stderr);
    expect(errs, stderr).toHaveLength(1);
    expect(errs[0]).toMatch(new RegExp(`^autoharden: cannot write .*${STATE}/.*\\(EROFS\\)`));
    // Not asserted: the CLI's recovery on ordinary errors is being changed (issue 10); reported.
    console.log(`state-faults: EROFS: trial drop-in left behind by the failed tune: ${vars.trialLeft ? 'yes' : 'no'}`);

    expect(vars.journal).toBe('0');
    const before = JSON.parse((await box.readFile('/tmp/erofs.json'))!) as JournalRecord[];
    expect(await records()).toEqual(before);
    const open = unfinished(before);
    const option = acceptedSet(before)[0]?.option;
    expect(option).toBeDefined();
    const r = await box.cli(['rollback', SAMPLE_UNIT, '--option', option!, '--settle', SETTLE], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const recs = await expectConsistent();
    for (const t of open) expect(recs.some((x) => x.kind === 'recovered' && x.trial === t), `trial #${t} recovered`).toBe(true);
    expect(acceptedSet(recs).map((s) => s.option)).toEqual(acceptedSet(before).map((s) => s.option).filter((o) => o !== option));
  }, 300_000);
});

describe('a torn or garbage last journal line', () => {
  const sideFiles = async () => (await box.check(`ls ${STATE}/journal/ | grep -F '.jsonl.torn-' || true`)).split('\n').filter(Boolean);

  for (const [name, tail] of [
    // a record cut short by a crash: no newline
    ['torn', `{"t":"2026-01-01T00:00:00.000Z","unit":"${SAMPLE_UNIT}","kind":"rollback","by":"us`],
    // a complete line that is no record
    ['garbage', 'ceci n\'est pas un record {{\n'],
  ] as const) {
    it(`${name}: readers skip it; the next writer cuts it off into a side file and its own record is whole`, async () => {
      const before = await records();
      const sides = await sideFiles();
      await box.check(['sh', '-c', 'printf "%s" "$1" >> "$2"', 'sh', tail, JOURNAL]);

      expect(await records()).toEqual(before);
      const st = await box.cli(['status', SAMPLE_UNIT, '--json']);
      expect(st.code, st.stderr).toBe(0);
      expect((JSON.parse(st.stdout) as Array<{ unit: string; state: string }>)[0]!.state).not.toBe('failed');

      const option = acceptedSet(before)[0]!.option;
      const r = await box.cli(['rollback', SAMPLE_UNIT, '--option', option, '--settle', SETTLE], { timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/WARNING: .*cut \d+ bytes off the journal/);

      const added = (await sideFiles()).filter((f) => !sides.includes(f));
      expect(added).toHaveLength(1);
      expect(await box.readFile(`${STATE}/journal/${added[0]}`)).toBe(tail);
      const after = await records();
      expect(after.slice(0, before.length)).toEqual(before);
      expect(after.slice(before.length).map((x) => x.kind)).toEqual(['rollback']);
      expect(after.at(-1)).toMatchObject({ kind: 'rollback', options: [option] });
      const raw = (await box.readFile(JOURNAL))!;
      expect(raw.endsWith('\n')).toBe(true);
      for (const line of raw.trimEnd().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
      await expectConsistent();
    }, 180_000);
  }
});

describe('the daemon on a full state directory', () => {
  const daemon = () => box.show('autoharden.service', ['ActiveState', 'MainPID', 'NRestarts']);
  const statusRows = async () => {
    const r = await box.cli(['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Array<{ unit: string; state: string; error?: string }>;
  };

  it('keeps answering status, does not crash-loop, and leaves no trial behind; a restart journals the revert', async () => {
    // Something to try again (the file runs alone under -t too: then there is no journal yet).
    if ((await box.readFile(JOURNAL)) !== null) {
      await box.check(['node', `${SRC_IN_BOX}/dist/cli/main.js`, 'rollback', SAMPLE_UNIT, '--all', '--settle', SETTLE], { timeoutMs: 120_000 });
    }
    await box.check(['sh', `${SRC_IN_BOX}/scripts/daemon-install.sh`]);
    const started = await daemon();
    expect(started.ActiveState).toBe('active');
    const begun = Number((await box.check(`cat ${JOURNAL} 2>/dev/null | grep -c '"kind":"trial-begin"' || true`)).trim());

    // The first trial of the enrollment is open: fill the disk under it.
    const { vars, stderr } = await script(`
      ${CLI} enroll ${SAMPLE_UNIT} --probe ${SAMPLE_URL} --settle 1500ms >/dev/null || echo enroll=failed
      n=0
      until [ "$(grep -c '"kind":"trial-begin"' ${JOURNAL} 2>/dev/null)" -gt ${begun} ] 2>/dev/null || [ $n -ge 1200 ]; do n=$((n+1)); sleep 0.05; done
      echo waited=$n
      dd if=/dev/zero of=${FILL} bs=4k 2>/dev/null; echo df=$(df --output=avail -k ${STATE} | tail -n 1 | tr -d ' ')`);
    expect(vars.enroll, stderr).toBeUndefined();
    expect(Number(vars.waited)).toBeLessThan(1200);
    expect(vars.df).toBe('0');

    // I3: status answers through the daemon while it fails the unit.
    let row: { state: string; error?: string } | undefined;
    await waitFor(async () => (row = (await statusRows()).find((x) => x.unit === SAMPLE_UNIT))?.state === 'failed', 90_000,
      { what: 'the unit failed', intervalMs: 500 });
    expect(row!.error).toMatch(/ENOSPC/);
    for (let i = 0; i < 3; i++) expect((await statusRows()).map((x) => x.unit)).toContain(SAMPLE_UNIT);
    const during = await daemon();
    expect(during.ActiveState).toBe('active');
    expect(during.MainPID).toBe(started.MainPID);
    expect(during.NRestarts).toBe(started.NRestarts);
    // I1 on the full disk: the daemon removed the trial and brought the unit back.
    expect(await box.readFile(TRIAL)).toBeNull();
    expect(await box.show(SAMPLE_UNIT, ['ActiveState', 'NeedDaemonReload'])).toEqual({ ActiveState: 'active', NeedDaemonReload: 'no' });
    expect((await box.http(SAMPLE_URL)).status).toBe(200);
    const log = await box.check('journalctl -u autoharden.service -o cat --no-pager');
    expect(log).toMatch(/reverted to its accepted set after: cannot write .*ENOSPC/);
    expect(log).not.toMatch(/could not revert after an error/);

    // A revert that could not be journaled (a trial left open: none when the fill struck between
    // trials, or the record fit into the journal's last tmpfs page) is journaled by the restarted
    // daemon once there is room (I2).
    const open = unfinished(await records());
    await box.check(`rm ${FILL} && systemctl restart autoharden.service`);
    await waitFor(async () => unfinished(await records()).length === 0, 120_000, { what: 'the open trial journaled as recovered', intervalMs: 500 });
    const recs = await records();
    for (const t of open) expect(recs.some((r) => r.kind === 'recovered' && r.trial === t), `trial #${t} recovered`).toBe(true);
    await box.check(['node', `${SRC_IN_BOX}/dist/cli/main.js`, 'unenroll', SAMPLE_UNIT, '--keep'], { timeoutMs: 300_000 });
    await expectConsistent();
    expect((await daemon()).ActiveState).toBe('active');
  }, 600_000);
});
