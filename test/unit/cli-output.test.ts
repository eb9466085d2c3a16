// What a person reads: progress lines on stderr (the same at a terminal or in a pipe), the tune
// report's notes (what an accepted setting means for this unit, not the catalog's label), and the
// daemon's journal lines with their sd-daemon(3) priorities. Text services wrote is hostile here:
// no control character or line break it holds may reach a terminal or start a journal line.
import { describe, expect, it } from 'vitest';
import { exitCodesText, formatTuneReport } from '../../src/cli/format.js';
import { aboutText, progressFields, progressText, settingsLine } from '../../src/cli/progress.js';
import type { NewRecord } from '../../src/core/journal.js';
import { foldReport, type ReportBase } from '../../src/core/report.js';
import { outcomeNotes } from '../../src/core/outcomeNotes.js';
import { CATALOG } from '../../src/core/catalog.js';
import type { Setting } from '../../src/core/types.js';
import { textDestination } from '../../src/daemon/log.js';

const s = (option: string, value = 'yes'): Setting => ({ option, value, lines: [`${option}=${value}`] });
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const HOSTILE = 'bad\u001b[2J\r\n<0>forged\u2028line';

describe('progress lines', () => {
  const settings = [s('ProtectSystem', 'strict'), s('ProtectHome')];

  it('say the trial, the estimate, the restarts and the time left', () => {
    expect(progressText({ type: 'trial', trial: 5, settings, restarts: 6, estimatedTrials: 16, elapsedMs: 4 * 15_000 }))
      .toBe('trial 5/≈16 ProtectSystem=strict ProtectHome=yes … (6 restarts, ≈3 min left)');
    expect(progressText({ type: 'verdict', trial: 5, settings, outcome: 'accepted', reason: 'ok', restarts: 7, estimatedTrials: 16, elapsedMs: 5 * 6_000 }))
      .toBe('trial 5/≈16 ProtectSystem=strict ProtectHome=yes … accepted (7 restarts, ≈1 min left)');
    expect(progressText({ type: 'verdict', trial: 2, settings: [s('PrivateDevices')], outcome: 'rejected', reason: 'exit status 226/NAMESPACE', restarts: 1 }))
      .toBe('trial 2 PrivateDevices=yes … rejected: exit status 226/NAMESPACE (1 restart)');
  });

  it('leave out what the engine did not count', () => {
    expect(progressText({ type: 'trial', trial: 3, settings })).toBe('trial 3 ProtectSystem=strict ProtectHome=yes …');
    // an estimate below the trial number is stale: not shown as "7/≈5", and no time left is made up
    expect(progressText({ type: 'verdict', trial: 7, settings, outcome: 'accepted', reason: '', estimatedTrials: 5, elapsedMs: 9000 }))
      .toBe('trial 7 ProtectSystem=strict ProtectHome=yes … accepted');
    // the last trial: nothing left to estimate
    expect(progressText({ type: 'verdict', trial: 4, settings, outcome: 'accepted', reason: '', estimatedTrials: 4, elapsedMs: 9000, restarts: 5 }))
      .toBe('trial 4/≈4 ProtectSystem=strict ProtectHome=yes … accepted (5 restarts)');
  });

  it('round the time left as an estimate', () => {
    expect([200, 40_000, 89_000, 150_000, 3_600_000, 4_860_000].map(aboutText)).toEqual(['≈1 s', '≈40 s', '≈1 min', '≈3 min', '≈1 h', '≈1 h 21 min']);
  });

  it('cut long values and long lists, and say so', () => {
    const long = s('SystemCallFilter', `~${'@privileged '.repeat(20)}`);
    const line = settingsLine([long, ...['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'].map((o) => s(`Option${o}`, 'something'))]);
    expect(line.length).toBeLessThan(140);
    expect(line).toMatch(/^SystemCallFilter=~@privileged .{20,}… /);
    expect(line).toMatch(/\(\+\d+ more\)$/);
  });

  it('escape what a service wrote: no escape sequence, line break or forged priority gets through', () => {
    for (const line of [
      progressText({ type: 'info', message: `warning: ${HOSTILE}` }),
      progressText({ type: 'verdict', trial: 1, settings: [s('ReadWritePaths', HOSTILE)], outcome: 'rejected', reason: HOSTILE }),
    ]) {
      expect(line).not.toMatch(CONTROL);
      expect(line).toContain('\\x1b[2J\\x0d\\x0a<0>forged\\u2028line');
    }
  });

  it('carry the counts as fields for --log-format json', () => {
    expect(progressFields({ type: 'verdict', trial: 5, settings: [s('ProtectHome')], outcome: 'accepted', reason: 'ok', restarts: 7, estimatedTrials: 16, elapsedMs: 1 }))
      .toEqual({ event: 'verdict', trial: 5, settings: [s('ProtectHome')], outcome: 'accepted', reason: 'ok', restarts: 7, estimatedTrials: 16, elapsedMs: 1 });
    expect(progressFields({ type: 'info', message: 'x' })).toEqual({ event: 'info' });
  });
});

const safety = new Map(CATALOG.map((c) => [c.name, c.safety]));
const trial = (n: number, settings: Setting[]): NewRecord[] => [
  { kind: 'trial-begin', trial: n, settings },
  { kind: 'trial-end', trial: n, settings, outcome: 'accepted', verdict: 'ok', reason: 'ok', evidence: [] },
];
const accepted = [s('ProtectSystem', 'strict'), s('ProtectHome'), s('PrivateTmp'), s('SystemCallFilter', '@system-service'), s('NoNewPrivileges')];
const events = [...trial(1, accepted), { kind: 'judged' as const, trial: 1, ineffective: [] }];
const reportOf = (base: Partial<ReportBase>) => foldReport({
  unit: 'x.service', exposureBefore: 9.6, exposureAfter: 3.1, trials: 1, restarts: 2, durationMs: 9000, warnings: [], safety, ...base,
}, events);

describe('the tune report', () => {
  it('prints no catalog label for a unit that spawns no login sessions (nginx)', () => {
    const r = reportOf({ unit: 'nginx.service', facts: { sessionEvidence: [] } });
    const text = formatTuneReport(r);
    expect(text).not.toMatch(/\[(reaches-sessions|latent-risk|restricts-reach|verifiable)\]/);
    expect(text).not.toMatch(/login session/);
    expect(text).toMatch(/^ {2}\+ ProtectSystem=strict$/m);
    // what could not be probed is said in words, under the setting
    expect(text).toMatch(/^ {2}\+ SystemCallFilter=@system-service\n {6}could not be probed: a failure would show only when it makes a system call the filter removes.* — watch for it$/m);
    // machines keep the class, and get the words
    expect(r.accepted.find((a) => a.option === 'ProtectSystem')).toEqual({ option: 'ProtectSystem', value: 'strict', reason: 'ok', safety: 'reaches-sessions' });
    expect(r.accepted.find((a) => a.option === 'SystemCallFilter')?.note).toMatch(/^could not be probed/);
  });

  it('says which settings confine the login sessions of a unit that spawns them (sshd)', () => {
    const r = reportOf({ unit: 'ssh.service', facts: { sessionEvidence: ['sshd runs sessions for logged-in users'] } });
    const text = formatTuneReport(r);
    expect(text).toContain('  These also confine the login sessions ssh.service spawns (users who log in through it get the same sandbox): '
      + 'ProtectSystem ProtectHome PrivateTmp SystemCallFilter NoNewPrivileges\n');
    expect(text).toMatch(/^ {2}\+ SystemCallFilter=@system-service\n {6}could not be probed/m);
    expect(text).not.toMatch(/\[reaches-sessions\]/);
    expect(r.accepted.find((a) => a.option === 'ProtectHome')).toEqual({ option: 'ProtectHome', value: 'yes', reason: 'ok', safety: 'reaches-sessions', confinesSessions: true });
  });

  it('names only the settings that reach sessions: IPAddressDeny leaves them once they leave the unit', () => {
    const r = foldReport({
      unit: 'ssh.service', exposureBefore: 9.6, exposureAfter: 3.1, trials: 1, restarts: 2, durationMs: 9000, warnings: [], safety,
      facts: { sessionEvidence: ['sshd'], sessionsStayInUnit: false },
    }, [...trial(1, [s('IPAddressDeny', 'any'), s('ProtectHome')]), { kind: 'judged' as const, trial: 1, ineffective: [] }]);
    expect(formatTuneReport(r)).toMatch(/same sandbox\): ProtectHome$/m);
    expect(r.accepted[0]).not.toHaveProperty('confinesSessions');
  });

  it('says nothing about sessions when observation did not run (an old report, a fake)', () => {
    expect(outcomeNotes('ProtectHome')).toEqual({});
    expect(outcomeNotes('NoNewPrivileges', { sessionEvidence: [] })).toEqual({});
    expect(outcomeNotes('NotAnOption', { sessionEvidence: ['x'] })).toEqual({});
  });

  it('escapes text a service wrote in rejections and warnings', () => {
    const r = { ...reportOf({}), rejected: [{ option: 'ProtectSystem', value: 'strict', reason: HOSTILE }], warnings: [HOSTILE] };
    for (const line of formatTuneReport(r).split('\n')) expect(line).not.toMatch(CONTROL);
  });

  it('lists the exit codes from the error table', () => {
    expect(exitCodesText()).toMatch(/^Exit codes:\n {2}0 +ok\n {2}1 +the operation failed\n/);
    expect(exitCodesText()).toMatch(/^ {2}75 +the unit is locked by another autoharden$/m);
  });
});

describe("the daemon's log lines", () => {
  const run = (journal: boolean, line: string) => {
    const out: string[] = [];
    textDestination((l) => out.push(l), journal).write(line);
    return out;
  };

  it('start with the sd-daemon(3) priority under journald, as text', () => {
    expect(run(true, '{"level":30,"msg":"nginx.service: enrolled"}\n')).toEqual(['<6>nginx.service: enrolled\n']);
    expect(run(true, '{"level":40,"msg":"w"}\n')).toEqual(['<4>w\n']);
    expect(run(true, '{"level":50,"msg":"e"}\n')).toEqual(['<3>e\n']);
    expect(run(true, '{"level":60,"msg":"f"}\n')).toEqual(['<2>f\n']);
    expect(run(true, '{"level":20,"msg":"d"}\n')).toEqual(['<7>d\n']);
  });

  it('carry a time and a level word elsewhere', () => {
    expect(run(false, '{"level":40,"time":0,"msg":"w"}\n')).toEqual(['1970-01-01T00:00:00.000Z warning: w\n']);
    expect(run(false, '{"level":30,"time":0,"msg":"i"}\n')).toEqual(['1970-01-01T00:00:00.000Z i\n']);
  });

  it('stay one line whatever a message holds: a service cannot forge a priority', () => {
    const [line] = run(true, `${JSON.stringify({ level: 30, msg: `ALERT x.service: ${HOSTILE}` })}\n`);
    expect(line).toBe('<6>ALERT x.service: bad\\x1b[2J\\x0d\\x0a<0>forged\\u2028line\n');
    expect(line!.slice(0, -1)).not.toMatch(CONTROL);
    // a line pino did not write as JSON still gets a priority and stays one line
    expect(run(true, 'not json\u001b\n')).toEqual(['<6>not json\\x1b\n']);
  });
});
