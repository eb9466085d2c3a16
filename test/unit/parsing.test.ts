import { describe, expect, it } from 'vitest';
import { AutohardenError } from '../../src/core/errors.js';
import { parseProbeSpec } from '../../src/core/probeSpec.js';
import { exposureLabel, parseOverallExposure } from '../../src/core/score.js';
import { parseUnitName } from '../../src/core/unitName.js';

const usage = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AutohardenError);
    expect((e as AutohardenError).code).toBe('Usage');
    expect((e as Error).message).not.toContain('\n');
    return;
  }
  throw new Error('expected a usage error');
};

describe('unit names', () => {
  it('accepts systemd names and adds .service to a bare one', () => {
    expect(parseUnitName('nginx.service')).toBe('nginx.service');
    expect(parseUnitName('nginx')).toBe('nginx.service');
    expect(parseUnitName('getty@tty1.service')).toBe('getty@tty1.service');
    expect(parseUnitName('systemd-fsck@dev-disk-by\\x2duuid-1.service')).toBe('systemd-fsck@dev-disk-by\\x2duuid-1.service');
    expect(parseUnitName('dbus.socket')).toBe('dbus.socket');
  });
  it('refuses anything that could escape a path or is not a unit', () => {
    for (const bad of ['', '../etc/passwd', 'a/b.service', '/etc/x.service', '.service', 'x.nope', 'x.service\n', 'x y.service', 'a@.service', 'x'.repeat(300) + '.service']) {
      usage(() => parseUnitName(bad));
    }
  });
  it('tune takes services only', () => {
    usage(() => parseUnitName('dbus.socket', { serviceOnly: true }));
  });
});

describe('probe specs', () => {
  it('parses the three kinds', () => {
    expect(parseProbeSpec('http://127.0.0.1/')).toMatchObject({ kind: 'http', url: 'http://127.0.0.1/' });
    expect(parseProbeSpec('https://localhost:8443/health')).toMatchObject({ kind: 'http' });
    expect(parseProbeSpec('tcp://127.0.0.1:6379')).toMatchObject({ kind: 'tcp', host: '127.0.0.1', port: 6379 });
    expect(parseProbeSpec('tcp://[::1]:11211')).toMatchObject({ kind: 'tcp', host: '::1', port: 11211 });
    expect(parseProbeSpec('exec:redis-cli ping')).toMatchObject({ kind: 'exec', command: 'redis-cli ping' });
  });
  it('refuses malformed specs', () => {
    for (const bad of ['', 'exec:', 'exec:   ', 'ftp://x/', 'tcp://127.0.0.1', 'tcp://h:0', 'tcp://h:70000', 'tcp://h:80/path', 'http://', 'nonsense', 'http://u:p@host/']) {
      usage(() => parseProbeSpec(bad));
    }
  });
});

describe('systemd-analyze overall line', () => {
  it('parses UTF-8 and C locales', () => {
    expect(parseOverallExposure('…\n→ Overall exposure level for nginx.service: 9.6 UNSAFE :-{\n')).toBe(9.6);
    expect(parseOverallExposure('-> Overall exposure level for redis-server.service: 1.1 OK :-)\n')).toBe(1.1);
    expect(parseOverallExposure('nothing here')).toBeUndefined();
  });
  it('labels like systemd', () => {
    expect(exposureLabel(9.6)).toBe('UNSAFE');
    expect(exposureLabel(7.5)).toBe('EXPOSED');
    expect(exposureLabel(4.9)).toBe('OK');
    expect(exposureLabel(0.1)).toBe('SAFE');
    expect(exposureLabel(0)).toBe('PERFECT');
  });
});
