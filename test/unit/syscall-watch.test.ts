// What the kernel's seccomp records teach a tune (engine/tune/syscallWatch.ts): SystemCallLog= only
// on trials that carry no filter and have NoNewPrivileges= anyway, groups attributed to the unit by
// executable, and nothing learned from a log that cannot be read.
import { describe, expect, it } from 'vitest';
import type { KernelLogWindow, SeccompRecord } from '../../src/core/seccompLog.js';
import type { Setting } from '../../src/core/types.js';
import type { KernelLogPort } from '../../src/engine/ports.js';
import type { TuneContext } from '../../src/engine/tune/context.js';
import { SyscallWatch } from '../../src/engine/tune/syscallWatch.js';

const s = (option: string, value: string): Setting => ({ option, value, lines: [`${option}=${value}`] });
const NNP = s('NoNewPrivileges', 'yes');
const FILTER = s('SystemCallFilter', '@system-service');

const rec = (seq: number, exe: string, syscall: string, action: SeccompRecord['action'] = 'log'): SeccompRecord => ({
  seq, pid: 4000 + seq, comm: 'x', exe, syscall, nr: 0, arch: 'c000003e', action, code: 0, signal: action === 'log' ? 0 : 31, auditTime: 0, serial: seq,
});

function watchWith(records: SeccompRecord[], o: { actions?: string[]; hasProperty?: boolean; accepted?: Setting[]; exes?: string[] } = {}) {
  let seq = 100;
  const log: KernelLogPort = {
    actionsLogged: o.actions ?? ['kill_process', 'log'],
    mark: () => seq,
    scan: (mark: number): KernelLogWindow => ({ records: records.filter((r) => r.seq > mark), incomplete: [], lastSeq: seq }),
  };
  const c = {
    o: { unit: 'web.service' },
    accepted: o.accepted ?? [],
    platform: { systemdVersion: 252, serviceProperties: new Set(o.hasProperty === false ? [] : ['SystemCallLog']) },
    syscallGroups: undefined,
    ports: {
      kernelLog: () => log,
      unitIdentity: async () => ({ pids: [], exes: o.exes ?? ['/usr/sbin/web'] }),
    },
  } as unknown as TuneContext;
  const w = new SyscallWatch(c);
  return { w, advance: () => (seq += 10) };
}

describe('SyscallWatch', () => {
  it('logs @privileged @resources on a trial without a filter that has NoNewPrivileges; never with a filter', async () => {
    const { w } = watchWith([]);
    await w.begin();
    expect(w.before([NNP]).lines).toEqual(['SystemCallLog=@privileged @resources']);
    expect(w.before([NNP, FILTER]).lines).toEqual([]);
    // without NoNewPrivileges, the filter's implied NNP would change what is judged
    expect(w.before([s('PrivateTmp', 'yes')]).lines).toEqual([]);
  });

  it('takes NoNewPrivileges from the accepted set too, and needs the property and the log action', async () => {
    const a = watchWith([], { accepted: [NNP] });
    await a.w.begin();
    expect(a.w.before([s('PrivateTmp', 'yes')]).lines).toHaveLength(1);
    const noProp = watchWith([], { hasProperty: false });
    await noProp.w.begin();
    expect(noProp.w.before([NNP]).lines).toEqual([]);
    const noLog = watchWith([], { actions: ['kill_process'] });
    await noLog.w.begin();
    expect(noLog.w.before([NNP]).lines).toEqual([]);
  });

  it("learns the groups of the unit's own calls after the mark, not another program's", async () => {
    const records = [rec(95, '/usr/sbin/web', 'setuid'), rec(105, '/usr/sbin/web', 'setgroups'), rec(106, '/usr/bin/other', 'setpriority'), rec(107, '/usr/sbin/web', 'read')];
    const { w } = watchWith(records);
    await w.begin();
    const t = w.before([NNP]);
    const fresh = await w.after(t, true);
    expect(fresh.map((u) => u.group)).toEqual(['privileged']);
    expect([...w.used.keys()]).toEqual(['privileged']);
    expect(w.used.get('privileged')?.calls).toEqual(['setgroups']); // 95 came before the mark
    expect(w.describe(['privileged'])).toBe('setgroups by /usr/sbin/web (@privileged)');
  });

  it('counts a logged trial that passed without loss; a kill of the unit ends a wait', async () => {
    const { w } = watchWith([rec(101, '/usr/sbin/web', 'read'), rec(102, '/usr/sbin/web', 'setuid', 'kill-process')]);
    await w.begin();
    const t = w.before([NNP]);
    expect(w.killShown(t)?.()).toMatch(/the kernel killed \/usr\/sbin\/web \(seccomp, setuid\)/);
    const clean = watchWith([rec(101, '/usr/sbin/web', 'read')]);
    await clean.w.begin();
    await clean.w.after(clean.w.before([NNP]), true);
    expect(clean.w.loggedPasses).toBe(1);
    expect(clean.w.used.size).toBe(0);
    await clean.w.after(clean.w.before([NNP]), false); // a failed trial says nothing about what is unused
    expect(clean.w.loggedPasses).toBe(1);
  });

  it('learns nothing and watches nothing where the kernel log cannot be read', async () => {
    const c = { o: { unit: 'web.service' }, accepted: [], ports: { kernelLog: () => ({ unavailable: 'an audit daemon runs' }) } } as unknown as TuneContext;
    const w = new SyscallWatch(c);
    await w.begin();
    expect(w.unavailable).toBe('an audit daemon runs');
    const t = w.before([NNP]);
    expect(t.lines).toEqual([]);
    expect(await w.after(t, true)).toEqual([]);
  });
});

describe('rungDeniesGroup', () => {
  it('reads a rung as denying a group only from a `~` line naming it', async () => {
    const { rungDeniesGroup } = await import('../../src/core/syscallFilter.js');
    const strict = ['SystemCallFilter=@system-service', 'SystemCallFilter=~@privileged @resources'];
    expect(rungDeniesGroup(strict, 'privileged')).toBe(true);
    expect(rungDeniesGroup(strict, 'resources')).toBe(true);
    expect(rungDeniesGroup(['SystemCallFilter=@system-service'], 'privileged')).toBe(false);
    expect(rungDeniesGroup(['SystemCallFilter=~@privileged-ish'], 'privileged')).toBe(false);
  });
});
