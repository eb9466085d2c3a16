import { describe, expect, it } from 'vitest';
import { classifyTrial, implicatedOptions } from '../../src/core/classify.js';
import type { OptionSpec, UnitSnapshot } from '../../src/core/types.js';

const snap = (o: Partial<UnitSnapshot> = {}): UnitSnapshot => ({
  activeState: 'active', subState: 'running', result: 'success', invocationId: 'aaaa1111', nRestarts: 0,
  mainPid: 10, execMainCode: 0, execMainStatus: 0, ...o,
});
const ok = { probe: 'http://127.0.0.1/', ok: true, detail: 'HTTP 200' };

describe('classifyTrial', () => {
  it('accepts a stable unit whose probes pass', () => {
    const v = classifyTrial({ jobResult: 'done', start: snap(), samples: [snap(), snap()], probes: [ok], logs: [] });
    expect(v).toMatchObject({ ok: true, kind: 'ok' });
  });
  it('names the systemd exit status of a failed start', () => {
    const failed = snap({ activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: 226 });
    const v = classifyTrial({ jobResult: 'done', start: snap(), samples: [failed], probes: [], logs: ['x.service: Failed to set up mount namespacing: Read-only file system'] });
    expect(v.ok).toBe(false);
    expect(v.kind).toBe('exit-status');
    expect(v.reason).toContain('226/NAMESPACE');
    expect(v.evidence).toContain('x.service: Failed to set up mount namespacing: Read-only file system');
  });
  it('reads the control process status from the logs when the start job fails (Type=forking)', () => {
    const v = classifyTrial({
      jobResult: 'failed', start: snap({ activeState: 'failed', result: 'exit-code' }), samples: [], probes: [],
      logs: ['nginx.service: Control process exited, code=exited, status=218/CAPABILITIES'],
    });
    expect(v.reason).toMatch(/^control process exit status 218\/CAPABILITIES; restart job failed/);
  });
  it('recognises SIGSYS from a system call filter', () => {
    const dead = snap({ activeState: 'failed', result: 'core-dump', execMainCode: 3, execMainStatus: 31 });
    const v = classifyTrial({ jobResult: 'done', start: snap(), samples: [dead], probes: [], logs: [] });
    expect(v.kind).toBe('signal');
    expect(v.reason).toContain('SIGSYS');
  });
  it('rejects a unit that restarted during settle even though it is active again', () => {
    const again = snap({ invocationId: 'bbbb2222', nRestarts: 1 });
    const v = classifyTrial({ jobResult: 'done', start: snap(), samples: [again], probes: [ok], logs: [] });
    expect(v).toMatchObject({ ok: false, kind: 'restarted' });
  });
  it('rejects on a failing probe and says which', () => {
    const v = classifyTrial({ jobResult: 'done', start: snap(), samples: [snap()], probes: [ok, { probe: 'tcp://127.0.0.1:81', ok: false, detail: 'ECONNREFUSED' }], logs: [] });
    expect(v).toMatchObject({ ok: false, kind: 'probe-failed' });
    expect(v.reason).toBe('probe tcp://127.0.0.1:81 failed: ECONNREFUSED');
  });
});

describe('implicatedOptions', () => {
  const spec = (name: string, exitStatuses: number[], logHints: string[] = []) => ({ name, exitStatuses, logHints }) as unknown as OptionSpec;
  const cat = [spec('ProtectSystem', [226], ['read-only file system']), spec('CapabilityBoundingSet', [218], ['operation not permitted']), spec('SystemCallFilter', [228])];
  it('follows exit status, SIGSYS and log hints', () => {
    expect(implicatedOptions({ ok: false, kind: 'exit-status', reason: 'exit status 226/NAMESPACE', evidence: [] }, cat)).toEqual(['ProtectSystem']);
    expect(implicatedOptions({ ok: false, kind: 'signal', reason: 'killed by SIGSYS', evidence: [] }, cat)).toEqual(['SystemCallFilter']);
    expect(implicatedOptions({ ok: false, kind: 'log-error', reason: 'x', evidence: ['open(): Operation not permitted'] }, cat)).toEqual(['CapabilityBoundingSet']);
    expect(implicatedOptions({ ok: false, kind: 'exit-status', reason: 'exit status 1', evidence: [] }, cat)).toEqual([]);
  });
});
