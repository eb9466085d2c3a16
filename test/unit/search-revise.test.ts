// Observation revises the adaptive planner's rungs between trials (the kernel's seccomp log):
// a rung rejected without a trial lets its option's next rung in; a rejected rung that was in a
// failed batch explains the failure, and the rest of that batch is tried again untested.
import { describe, expect, it } from 'vitest';
import type { Candidate } from '../../src/core/plan.js';
import { Adaptive } from '../../src/core/search.js';
import type { OptionSpec, Rung } from '../../src/core/types.js';

const rung = (name: string, value: string, residual = 0): Rung => ({ value, lines: [`${name}=${value}`], residual, inForce: () => false });
const cand = (name: string, weight: number, values: string[], prior = 0.9): Candidate => ({
  spec: { name, weight, prior } as OptionSpec,
  rungs: values.map((v, i) => rung(name, v, i / values.length)),
});
const names = (s: readonly { option: string; value: string }[] | undefined) => (s ?? []).map((x) => `${x.option}=${x.value}`).sort();

describe('Adaptive.revise', () => {
  it('rejects a rung in the pool without a trial; the next rung of that option takes its place', () => {
    const p = new Adaptive([cand('A', 100, ['yes']), cand('F', 90, ['strict', 'service'], 0.3)]);
    expect(p.revise('F', 'strict', { reject: 'kernel logged setuid' })).toBe(true);
    expect(p.rejected()).toEqual([expect.objectContaining({ reason: 'observed', setting: expect.objectContaining({ option: 'F', value: 'strict' }) })]);
    const seen: string[] = [];
    for (let s = p.next(); s; s = p.next()) {
      seen.push(...names(s));
      p.report(true);
    }
    expect(seen).not.toContain('F=strict');
    expect(seen).toContain('F=service');
    expect(names(p.accepted())).toEqual(['A=yes', 'F=service']);
  });

  it('a new prior moves the rung into the predicted batch, still tried', () => {
    const low = new Adaptive([cand('A', 100, ['yes']), cand('F', 90, ['strict'], 0.3)]);
    expect(names(low.next())).toEqual(['A=yes']);
    const raised = new Adaptive([cand('A', 100, ['yes']), cand('F', 90, ['strict'], 0.3)]);
    expect(raised.revise('F', 'strict', { prior: 0.95 })).toBe(true);
    expect(names(raised.next())).toEqual(['A=yes', 'F=strict']);
  });

  it('a rejected rung of a failed batch explains it: the rest goes back untested, not bisected', () => {
    const p = new Adaptive([cand('A', 100, ['yes']), cand('B', 95, ['yes']), cand('F', 90, ['strict', 'service'])]);
    expect(names(p.next())).toEqual(['A=yes', 'B=yes', 'F=strict']);
    p.report(false);
    expect(p.revise('F', 'strict', { reject: 'kernel: killed by SIGSYS for setgroups' })).toBe(true);
    // the whole rest comes back as one batch, with F's next rung: not split as a suspect
    expect(names(p.next())).toEqual(['A=yes', 'B=yes', 'F=service']);
    p.report(true);
    expect(p.next()).toBeUndefined();
    expect(names(p.accepted())).toEqual(['A=yes', 'B=yes', 'F=service']);
    expect(p.rejected().map((r) => r.reason)).toEqual(['observed']);
  });

  it('changes nothing for a rung it does not hold (under trial, accepted, or unknown)', () => {
    const p = new Adaptive([cand('A', 100, ['yes']), cand('F', 90, ['strict'])]);
    p.next();
    expect(p.revise('F', 'strict', { reject: 'x' })).toBe(false); // under trial: its verdict decides
    p.report(true);
    expect(p.revise('F', 'strict', { reject: 'x' })).toBe(false); // accepted already
    expect(p.revise('Z', 'yes', { prior: 0.1 })).toBe(false);
    expect(names(p.accepted())).toEqual(['A=yes', 'F=strict']);
  });
});
