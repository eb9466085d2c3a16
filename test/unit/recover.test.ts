// Recovery brings a unit in line with its journal: here the case where the files already agree
// but the running process does not (a rollback killed between its reload and its restart).
import { describe, expect, it } from 'vitest';
import type { Setting } from '../../src/core/types.js';
import { recoverUnit } from '../../src/engine/recover.js';
import { RUNNING, fakePorts, memoryDropIns } from '../fakes/ports.js';

const setting = (option: string): Setting => ({ option, value: 'yes', lines: [`${option}=yes`] });

function world() {
  // the running process started before what follows
  const unit = { name: 'web.service', restarts: 0, snap: { ...RUNNING, execMainStartRealtime: (Date.now() - 60_000) * 1000 } };
  const ports = fakePorts(unit.name, {
    dropins: memoryDropIns(unit.name),
    systemd: {
      snapshot: async () => ({ ...unit.snap }),
      restart: async () => ((unit.snap = { ...unit.snap, invocationId: `i${++unit.restarts}` }), 'done'),
    },
  });
  // a tune that accepted two settings, in force
  const tuned = [setting('PrivateTmp'), setting('ProtectHome')];
  ports.journal.append({ kind: 'tune-begin', strategy: 'one-at-a-time', probes: [], exposure: 9.6 });
  tuned.forEach((s, i) => {
    ports.journal.append({ kind: 'trial-begin', trial: i + 1, settings: [s] });
    ports.journal.append({ kind: 'trial-end', trial: i + 1, settings: [s], outcome: 'accepted', verdict: 'ok', reason: 'ok', evidence: [] });
  });
  ports.journal.append({ kind: 'tune-end', exposureBefore: 9.6, exposureAfter: 3, trials: 2, restarts: 2, durationMs: 1 });
  ports.dropins.writeAccepted(unit.name, tuned, 'etc');
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
