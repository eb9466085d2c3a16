import { describe, expect, it } from 'vitest';
import { optionByName } from '../../src/core/catalog.js';
import type { SafetyFacts } from '../../src/core/policy.js';
import { likelyFreeCaps, observedPrior } from '../../src/core/priors.js';

const facts = (o: Partial<SafetyFacts>): SafetyFacts => ({
  usesInet: true, inetEndpoints: [], nonLoopbackListeners: [], families: [], peers: [], sessionEvidence: [], createdModes: [], ...o,
});

describe('priors from observation', () => {
  const spec = (n: string) => optionByName(n)!;
  it('expects a root daemon that switches user to need SETUID/SETGID and its user namespace', () => {
    const nginx = facts({ uids: [0, 33], commands: ['nginx'] });
    expect(observedPrior(spec('PrivateUsers'), nginx)).toBeLessThanOrEqual(0.05);
    expect(observedPrior(spec('SystemCallFilter'), nginx)).toBeLessThanOrEqual(0.1);
    expect(observedPrior(spec('ProtectHome'), nginx)).toBe(spec('ProtectHome').prior);
  });
  it('expects a JIT runtime to break MemoryDenyWriteExecute', () => {
    expect(observedPrior(spec('MemoryDenyWriteExecute'), facts({ uids: [0], commands: ['node'] }))).toBeLessThan(0.05);
    expect(observedPrior(spec('MemoryDenyWriteExecute'), facts({ uids: [100], commands: ['redis-server'] }))).toBe(spec('MemoryDenyWriteExecute').prior);
  });
  it('treats SETUID/SETGID and NET_BIND_SERVICE as likely free only when nothing observed needs them', () => {
    const single = likelyFreeCaps(facts({ uids: [0], inetEndpoints: ['tcp 127.0.0.1:6379'] }), []);
    expect(single).toEqual(expect.arrayContaining(['CAP_SETUID', 'CAP_SETGID', 'CAP_NET_BIND_SERVICE']));
    const web = likelyFreeCaps(facts({ uids: [0, 33], inetEndpoints: ['tcp 0.0.0.0:80'] }), []);
    expect(web).not.toContain('CAP_SETUID');
    expect(web).not.toContain('CAP_NET_BIND_SERVICE');
  });
});
