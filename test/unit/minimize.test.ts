import { describe, expect, it } from 'vitest';
import { ALL_CAPS_MASK, maskFromCaps } from '../../src/core/capabilities.js';
import { SYSCALL_GROUPS } from '../../src/core/catalog.js';
import { Minimizer, capabilityItems, capabilityStep, syscallItems, syscallStep } from '../../src/core/minimize.js';
import { inForce } from '../../src/core/setting.js';

function run(m: Minimizer, needed: Set<string>) {
  let trials = 0;
  for (let g = m.next(); g; g = m.next()) {
    trials++;
    m.report(!g.some((x) => needed.has(x)));
  }
  return trials;
}

describe('set minimisation', () => {
  const items = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'];
  it('finds exactly the needed items, one at a time', () => {
    const m = new Minimizer(items, 'one-at-a-time');
    expect(run(m, new Set(['C', 'F']))).toBe(8);
    expect(m.kept().sort()).toEqual(['C', 'F']);
    expect(m.removed().sort()).toEqual(['A', 'B', 'D', 'E', 'G', 'H']);
  });
  it('group-tests the likely-free items first and splits a failing group', () => {
    const m = new Minimizer(items, 'adaptive', ['A', 'B', 'C', 'D', 'E', 'F']);
    const trials = run(m, new Set(['C', 'H']));
    expect(m.kept().sort()).toEqual(['C', 'H']);
    expect(m.removed().sort()).toEqual(['A', 'B', 'D', 'E', 'F', 'G']);
    expect(trials).toBeLessThan(8);
  });
});

describe('capability steps', () => {
  const eff = { CapabilityBoundingSet: maskFromCaps(['CAP_CHOWN', 'CAP_SETUID', 'CAP_NET_BIND_SERVICE']) };
  it('removes with ~ lines only and checks the bounding set read back', () => {
    expect(capabilityItems(eff)).toEqual(['CAP_CHOWN', 'CAP_SETUID', 'CAP_NET_BIND_SERVICE']);
    const s = capabilityStep(eff, ['CAP_CHOWN']);
    expect(s.value).toBe('keep SETUID NET_BIND_SERVICE');
    expect(s.lines).toHaveLength(1);
    expect(s.lines[0]).toMatch(/^CapabilityBoundingSet=~CAP_CHOWN /);
    expect(s.lines[0]).not.toContain('CAP_SETUID');
    expect(inForce(s, { CapabilityBoundingSet: maskFromCaps(['CAP_SETUID', 'CAP_NET_BIND_SERVICE']) })).toBe(true);
    expect(inForce(s, eff)).toBe(false);
    expect(inForce(s, { CapabilityBoundingSet: ALL_CAPS_MASK })).toBe(false);
  });
});

describe('system call filter steps', () => {
  it('narrows an allow list and widens a deny list with the same ~ line', () => {
    const allow = { SystemCallFilter: { allow: true, items: ['read', 'write', 'setrlimit', 'setuid', 'prlimit64'] } };
    expect(syscallItems(allow)).toEqual(['@resources', '@privileged']);
    const base = { option: 'SystemCallFilter', value: '@system-service', lines: ['SystemCallFilter=@system-service'] };
    const s = syscallStep(base, ['@resources']);
    expect(s.lines).toEqual(['SystemCallFilter=@system-service', 'SystemCallFilter=~@resources']);
    expect(inForce(s, allow)).toBe(false);
    expect(inForce(s, { SystemCallFilter: { allow: true, items: ['read', 'write', 'setuid'] } })).toBe(true);
    expect(inForce(s, { SystemCallFilter: { allow: false, items: [...SYSCALL_GROUPS.resources!] } })).toBe(true);
    expect(inForce(s, { SystemCallFilter: { allow: false, items: SYSCALL_GROUPS.resources!.slice(1) } })).toBe(false);
  });
});
