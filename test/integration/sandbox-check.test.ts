// The guard's trusted evidence against a real systemd: autoharden's check unit runs /bin/true as
// the service's user under its accepted settings. It sets up where the sandbox can be set up,
// fails with systemd's own exit status where it cannot, and leaves nothing behind either way —
// and the service itself is never restarted by it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_UNIT, SRC_IN_BOX, startBox, type Box } from '../harness/box.js';

const canBox = process.getuid?.() === 0;

describe.skipIf(!canBox)('sandbox check unit in a real systemd', () => {
  let box: Box;
  const check = async (...settings: string[]) => {
    const r = await box.exec(['node', `${SRC_IN_BOX}/test/integration/sandbox-check-cli.mjs`, SAMPLE_UNIT, ...settings]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { setUp: boolean; reason: string };
  };
  const invocation = async () => (await box.exec(['systemctl', 'show', '-p', 'InvocationID', '--value', SAMPLE_UNIT])).stdout.trim();

  beforeAll(async () => {
    box = await startBox('sbxcheck');
    await box.installSample();
  });
  afterAll(async () => {
    await box?.stop();
  });

  it('sets up a sandbox that can be set up, as the service would get it', async () => {
    const before = await invocation();
    const r = await check('ProtectSystem=strict;ReadWritePaths=-/var/lib/autoharden-sample', 'PrivateTmp=yes', 'CapabilityBoundingSet=~CAP_SYS_ADMIN', 'SystemCallFilter=@system-service');
    expect(r).toEqual({ setUp: true, reason: expect.stringMatching(/sets up/) });
    expect(await invocation()).toBe(before); // the service was not restarted
  });

  it('reports what systemd records when a setting cannot be set up (226/NAMESPACE)', async () => {
    const r = await check('ProtectSystem=strict;ReadWritePaths=/nonexistent/autoharden-check');
    expect(r.setUp).toBe(false);
    expect(r.reason).toMatch(/exit status 226\/NAMESPACE/);
  });

  it('leaves no unit file and no failed unit behind', async () => {
    await check('ProtectSystem=strict;ReadWritePaths=/nonexistent/autoharden-check');
    const files = await box.exec(['sh', '-c', 'ls /run/systemd/system | grep -c zz-autoharden-check || true']);
    expect(files.stdout.trim()).toBe('0');
    const failed = await box.exec(['systemctl', 'list-units', '--all', '--no-legend', 'zz-autoharden-check-*']);
    expect(failed.stdout.trim()).toBe('');
  });
});
