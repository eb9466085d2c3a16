// The check unit's text and the reading of its outcome (pure parts of the guard's trusted evidence).
import { describe, expect, it } from 'vitest';
import { AutohardenError } from '../../src/core/errors.js';
import { checkOutcome, checkUnitName, reachedServiceCode, renderCheckUnit } from '../../src/core/sandboxCheck.js';
import type { UnitSnapshot } from '../../src/core/types.js';

const snap = (p: Partial<UnitSnapshot>): UnitSnapshot => ({
  activeState: 'inactive', subState: 'dead', result: 'success', invocationId: 'i', nRestarts: 0, mainPid: 0, execMainCode: 1, execMainStatus: 0, ...p,
});

describe('sandbox check unit', () => {
  it('runs /bin/true as the service user under exactly the accepted lines', () => {
    const text = renderCheckUnit('nginx.service', { User: 'www-data', Group: 'www-data', SupplementaryGroups: ['adm'], DynamicUser: false }, [
      { option: 'ProtectSystem', value: 'strict', lines: ['ProtectSystem=strict', 'ReadWritePaths=-/var/log/nginx'] },
      { option: 'PrivateTmp', value: 'yes', lines: ['PrivateTmp=yes'] },
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toBe('# Managed by autoharden');
    expect(lines).toEqual(expect.arrayContaining(['Type=oneshot', 'ExecStart=/bin/true', 'User=www-data', 'Group=www-data', 'SupplementaryGroups=adm',
      'ProtectSystem=strict', 'ReadWritePaths=-/var/log/nginx', 'PrivateTmp=yes']));
    expect(lines.filter((l) => l.startsWith('Exec'))).toEqual(['ExecStart=/bin/true']);
  });

  it('refuses an identity or a setting that would smuggle in a directive', () => {
    expect(() => renderCheckUnit('x.service', { User: 'root\nExecStartPre=+/bin/sh' }, [])).toThrow(/not a user or group name/);
    expect(() => renderCheckUnit('x.service', {}, [{ option: 'PrivateTmp', value: 'yes', lines: ['ExecStartPre=+/usr/bin/touch /etc/x'] }])).toThrow(AutohardenError);
    expect(() => renderCheckUnit('x.service', {}, [{ option: 'PrivateTmp', value: 'yes', lines: ['PrivateTmp=yes\nExecStart=/bin/sh'] }])).toThrow(AutohardenError);
  });

  it('names one unit per service without characters that change its meaning', () => {
    expect(checkUnitName('getty@tty1.service')).toMatch(/^zz-autoharden-check-[0-9a-f]{12}\.service$/);
    expect(checkUnitName('a.service')).not.toBe(checkUnitName('b.service'));
  });

  it('reads the outcome from what systemd recorded about /bin/true', () => {
    expect(checkOutcome('done', snap({})).setUp).toBe(true);
    const failed = checkOutcome('failed', snap({ activeState: 'failed', result: 'exit-code', execMainStatus: 226 }));
    expect(failed).toEqual({ setUp: false, reason: expect.stringMatching(/exit status 226\/NAMESPACE/), cause: expect.objectContaining({ kind: 'exit', status: 226, name: 'NAMESPACE' }) });
    expect(checkOutcome('timeout', snap({ result: 'timeout', execMainCode: 0 })).setUp).toBe(false);
  });

  it('tells from systemd ≥ 256 handoff timestamps whether the service code ran, and says when it cannot tell', () => {
    expect(reachedServiceCode(snap({ execMainStartMono: 100, execMainHandoffMono: 105 }))).toBe(true);
    expect(reachedServiceCode(snap({ execMainStartMono: 100, execMainHandoffMono: 0 }))).toBe(false);
    expect(reachedServiceCode(snap({}))).toBeUndefined(); // systemd 252: no such property
    expect(reachedServiceCode(snap({ execMainStartMono: 0, execMainHandoffMono: 0 }))).toBeUndefined();
  });
});
