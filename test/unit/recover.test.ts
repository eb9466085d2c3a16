// Recovery brings a unit in line with its journal: here the case where the files already agree
// but the running process does not (a rollback killed between its reload and its restart).
import { describe, expect, it } from 'vitest';
import { recoverUnit } from '../../src/engine/recover.js';
import { SimUnit, setting, simPorts, tuned } from './daemon-fakes.js';

function world() {
  const unit = new SimUnit('web.service');
  const ports = simPorts(unit);
  tuned(ports, unit, [setting('PrivateTmp'), setting('ProtectHome')]);
  // the running process started before what follows
  unit.snap = { ...unit.snap, execMainStartRealtime: (Date.now() - 60_000) * 1000 };
  return { unit, ports };
}

describe('recovery', () => {
  it('restarts a unit whose process predates the last rollback in its journal', async () => {
    const { unit, ports } = world();
    ports.journal.append({ kind: 'rollback', by: 'user', options: ['ProtectHome'], reason: 'rollback --option ProtectHome' });
    ports.dropins.writeAccepted(unit.name, [setting('PrivateTmp')], 'etc'); // the reload happened, the restart did not
    const before = unit.restarts;
    const r = await recoverUnit(ports, unit.name, { settleMs: 50, probes: [] });
    expect(r).toEqual({ recovered: true, restarted: true });
    expect(unit.restarts).toBe(before + 1);
  });

  it('leaves alone a unit already restarted after it, or running the set in the invocation the record names', async () => {
    const { unit, ports } = world();
    ports.journal.append({ kind: 'rollback', by: 'guard', options: ['ProtectHome'], reason: 'reproduced: …', invocation: unit.snap.invocationId });
    ports.dropins.writeAccepted(unit.name, [setting('PrivateTmp')], 'etc');
    expect(await recoverUnit(ports, unit.name, { settleMs: 50, probes: [] })).toEqual({ recovered: false, restarted: false });
    unit.snap = { ...unit.snap, invocationId: 'later', execMainStartRealtime: (Date.now() + 1000) * 1000 };
    ports.journal.append({ kind: 'rollback', by: 'user', options: ['PrivateTmp'], reason: 'x' });
    ports.dropins.writeAccepted(unit.name, [], 'etc');
    expect(await recoverUnit(ports, unit.name, { settleMs: 50, probes: [] })).toEqual({ recovered: false, restarted: false });
  });
});
