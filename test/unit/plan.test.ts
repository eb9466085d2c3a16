import { describe, expect, it } from 'vitest';
import { OneAtATime, orderByGain, type Candidate } from '../../src/core/plan.js';
import type { OptionSpec, Rung } from '../../src/core/types.js';

const rung = (value: string, residual = 0): Rung => ({ value, lines: [`X=${value}`], residual, inForce: () => false });
const cand = (name: string, weight: number, values: string[], prior = 0.9): Candidate => ({
  spec: { name, weight, prior } as OptionSpec,
  rungs: values.map((v, i) => rung(v, i / values.length)),
});

/** Drives a planner against an oracle that says which option=value pairs break the service. */
function drive(p: OneAtATime, breaks: Set<string>) {
  const trials: string[] = [];
  for (let t = p.next(); t; t = p.next()) {
    const s = t.map((x) => `${x.option}=${x.value}`);
    trials.push(s.join(' '));
    p.report(!s.some((x) => breaks.has(x)));
  }
  return trials;
}

describe('one-at-a-time planner', () => {
  it('orders by expected gain (weight × chance it works)', () => {
    const order = orderByGain([cand('Small', 100, ['yes']), cand('Big', 1000, ['yes']), cand('Risky', 2000, ['yes'], 0.01)]);
    expect(order.map((c) => c.spec.name)).toEqual(['Big', 'Small', 'Risky']);
  });

  it('walks down a ladder on rejection and keeps the strongest rung that works', () => {
    const p = new OneAtATime([cand('ProtectSystem', 1000, ['strict', 'full', 'yes']), cand('PrivateTmp', 500, ['yes'])]);
    const trials = drive(p, new Set(['ProtectSystem=strict', 'PrivateTmp=yes']));
    expect(trials).toEqual(['ProtectSystem=strict', 'ProtectSystem=full', 'PrivateTmp=yes']);
    expect(p.accepted().map((s) => `${s.option}=${s.value}`)).toEqual(['ProtectSystem=full']);
  });

  it('gives up on an option whose every rung breaks', () => {
    const p = new OneAtATime([cand('A', 10, ['1', '2'])]);
    expect(drive(p, new Set(['A=1', 'A=2']))).toEqual(['A=1', 'A=2']);
    expect(p.accepted()).toEqual([]);
  });

  it('refuses to skip a verdict', () => {
    const p = new OneAtATime([cand('A', 10, ['1'])]);
    p.next();
    expect(() => p.next()).toThrow(/report/);
  });
});
