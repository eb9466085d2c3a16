import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DropIns } from '../../src/adapters/dropins.js';
import { MARKER, renderDropIn } from '../../src/core/dropin.js';

const s = (option: string, value: string, lines: string[]) => ({ option, value, lines });

function dirs() {
  const root = mkdtempSync(join(tmpdir(), 'ah-d-'));
  return { run: join(root, 'run'), etc: join(root, 'etc'), state: join(root, 'state') };
}

describe('drop-in rendering', () => {
  it('starts with the marker and holds every line under [Service]', () => {
    const text = renderDropIn('x.service', [s('ProtectSystem', 'full', ['ProtectSystem=full']), s('CapabilityBoundingSet', 'daemon', ['CapabilityBoundingSet=~CAP_SYS_ADMIN'])], 'accepted');
    const lines = text.split('\n');
    expect(lines[0]).toBe(MARKER);
    const svc = lines.indexOf('[Service]');
    expect(svc).toBeGreaterThan(0);
    expect(lines.slice(svc)).toEqual(expect.arrayContaining(['ProtectSystem=full', 'CapabilityBoundingSet=~CAP_SYS_ADMIN']));
  });
});

describe('drop-in files', () => {
  it('moves the accepted set between /run and /etc and never keeps both', () => {
    const d = dirs();
    const io = new DropIns(d.state, d);
    io.writeAccepted('x.service', [s('PrivateTmp', 'yes', ['PrivateTmp=yes'])], 'run');
    expect(io.acceptedWhere('x.service')).toBe('run');
    io.writeAccepted('x.service', [s('PrivateTmp', 'yes', ['PrivateTmp=yes'])], 'etc');
    expect(io.acceptedWhere('x.service')).toBe('etc');
    expect(existsSync(join(d.run, 'x.service.d', 'zz-autoharden-50-accepted.conf'))).toBe(false);
    io.writeAccepted('x.service', [], 'etc');
    expect(io.acceptedWhere('x.service')).toBeUndefined();
    expect(existsSync(join(d.etc, 'x.service.d'))).toBe(false);
  });

  it('refuses to overwrite or remove a file it did not write, and leaves it intact', () => {
    const d = dirs();
    const io = new DropIns(d.state, d);
    mkdirSync(join(d.run, 'x.service.d'), { recursive: true });
    const foreign = join(d.run, 'x.service.d', 'zz-autoharden-90-trial.conf');
    writeFileSync(foreign, '[Service]\nProtectSystem=no\n');
    expect(() => io.writeTrial('x.service', [s('PrivateTmp', 'yes', ['PrivateTmp=yes'])])).toThrow(/not written by autoharden/);
    expect(() => io.removeTrial('x.service')).toThrow(/not written by autoharden/);
    expect(readFileSync(foreign, 'utf8')).toBe('[Service]\nProtectSystem=no\n');
  });

  it('adopts a drop-in written before the write registry only when the journal says autoharden wrote exactly that', () => {
    const d = dirs();
    const accepted = [s('PrivateTmp', 'yes', ['PrivateTmp=yes'])];
    const legacy = renderDropIn('x.service', accepted, 'accepted');
    const path = join(d.etc, 'x.service.d', 'zz-autoharden-50-accepted.conf');
    mkdirSync(join(d.etc, 'x.service.d'), { recursive: true });
    writeFileSync(path, legacy);
    // the journal vouches for it: ours, rewritten as asked
    const vouched = new DropIns(d.state, d, (_u, file) => (file === 'zz-autoharden-50-accepted.conf' ? [legacy] : []));
    vouched.writeAccepted('x.service', [...accepted, s('ProtectHome', 'yes', ['ProtectHome=yes'])], 'etc');
    expect(readFileSync(path, 'utf8')).toContain('ProtectHome=yes');
    // a marker file nobody journaled is refused and left as it is
    const e = dirs();
    mkdirSync(join(e.etc, 'x.service.d'), { recursive: true });
    const planted = join(e.etc, 'x.service.d', 'zz-autoharden-50-accepted.conf');
    writeFileSync(planted, renderDropIn('x.service', [s('ProtectSystem', 'yes', ['ProtectSystem=yes'])], 'accepted'));
    const io = new DropIns(e.state, e, () => [legacy]);
    expect(() => io.writeAccepted('x.service', accepted, 'etc')).toThrow(/not what autoharden wrote/);
    expect(readFileSync(planted, 'utf8')).toContain('ProtectSystem=yes');
  });
});
