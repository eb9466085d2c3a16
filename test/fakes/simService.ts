// A service the real tune engine can drive without systemd, shared by the engine's unit tests: it
// fails to start under any option in `breaks` (exit 226), dies a while after start (the third
// stability sample) under any in `late` (228), takes `restartMs` of virtual time per restart, and
// can log lines at each start (`logsAtStart`). Options are in force once reloaded, as booleans.
import type { EffectiveSettings, UnitSnapshot } from '../../src/core/types.js';
import type { ProgressEvent } from '../../src/engine/ports.js';
import { RUNNING, fakePorts, memoryDropIns } from './ports.js';

export interface SimOptions {
  breaks?: readonly string[];
  late?: readonly string[];
  restartMs?: number;
  logsAtStart?: (inEffect: string[], restarts: number) => string[];
}

export function simulatedService(o: SimOptions = {}) {
  const { breaks = [], late = [], restartMs = 0, logsAtStart } = o;
  const d = memoryDropIns('sim.service');
  const logs: string[] = [];
  let eff: EffectiveSettings = {};
  let snap: UnitSnapshot = { ...RUNNING };
  let samples = 0;
  const sim = { restarts: 0, events: [] as ProgressEvent[] };
  const inEffect = () => Object.keys(eff).filter((k) => eff[k] === true);
  const dead = (status: number): UnitSnapshot => ({ ...snap, activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: status });
  const ports = fakePorts('sim.service', {
    systemd: {
      unitInfo: async () => ({ loadState: 'loaded', activeState: snap.activeState, subState: snap.subState, fragmentPath: '', dropInPaths: [], needDaemonReload: false, type: 'simple' }),
      snapshot: async () => {
        if (snap.activeState === 'active' && ++samples >= 3 && inEffect().some((x) => late.includes(x))) snap = dead(228);
        return { ...snap };
      },
      serviceProperties: async () => ({ ...eff }),
      reload: async () => {
        eff = Object.fromEntries([...d.accepted, ...d.trial].map((s) => [s.option, true]));
      },
      restart: async () => {
        sim.restarts++;
        samples = 0;
        ports.clock.ms += restartMs;
        snap = { ...snap, activeState: 'active', subState: 'running', result: 'success', invocationId: `i${sim.restarts}`, execMainCode: 0, execMainStatus: 0 };
        if (inEffect().some((x) => breaks.includes(x))) snap = dead(226);
        logs.push(...(logsAtStart?.(inEffect(), sim.restarts) ?? []));
        return 'done';
      },
    },
    dropins: d,
    unitLogsSince: async () => logs.splice(0),
    progress: (e) => sim.events.push(e),
    exposure: async () => 9.6 - d.accepted.length,
  });
  /** Whether the unit runs now, with the accepted drop-in alone in force. */
  const healthy = () => snap.activeState === 'active' && !inEffect().some((x) => breaks.includes(x) || late.includes(x)) && d.trial.length === 0;
  return { ports, sim, healthy, accepted: () => d.accepted.map((s) => s.option).sort() };
}
