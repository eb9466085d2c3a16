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
});
