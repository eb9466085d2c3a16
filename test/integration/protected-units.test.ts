// `autoharden tune` refuses the system bus and systemd's own units by whatever name it is asked
// for (issue 9 item 6): exit 2, one line, and the unit untouched. Debian 12 has no
// messagebus.service alias; the test makes one (an Alias= symlink) so the alias path is real.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, startBox } from '../harness/box.js';

const isRoot = process.getuid?.() === 0;
let box: Box;

beforeAll(async () => {
  if (!isRoot) return;
  box = await startBox('guardrails-protected');
  await box.check('ln -sf /lib/systemd/system/dbus.service /etc/systemd/system/messagebus.service && systemctl daemon-reload');
});

afterAll(async () => {
  await box?.stop();
});

describe.skipIf(!isRoot)('protected units', () => {
  it.each([
    ['dbus.service', 'refusing to tune dbus.service: autoharden never restarts the system bus'],
    ['messagebus', 'refusing to tune messagebus.service (alias of dbus.service): autoharden never restarts the system bus'],
    ['dbus-org.freedesktop.login1.service', "refusing to tune dbus-org.freedesktop.login1.service (alias of systemd-logind.service): autoharden never restarts systemd's own units"],
  ])('tune %s exits 2 and leaves the bus untouched', async (unit, message) => {
    const bus = ['MainPID', 'InvocationID', 'NRestarts', 'ActiveState', 'DropInPaths'];
    const before = await box.show('dbus.service', bus);
    expect(before.ActiveState).toBe('active');
    expect((await box.show('messagebus.service', ['Id'])).Id).toBe('dbus.service');

    const r = await box.cli(['tune', unit, '--probe', 'exec:true']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(message);

    expect(await box.show('dbus.service', bus)).toEqual(before);
    const left = await box.sh('ls /run/systemd/system/dbus.service.d /etc/systemd/system/dbus.service.d /var/lib/autoharden/journal 2>/dev/null; true');
    expect(left.stdout).not.toMatch(/autoharden|dbus|messagebus|logind/);
  });

  it('still tunes a unit by an innocent alias: sshd.service is ssh.service on Debian', async () => {
    // only unitInfo is at stake here: the refusal would come before the probes, this passes them
    const r = await box.cli(['tune', 'sshd.service', '--probe', 'exec:false']);
    expect(r.stderr).not.toMatch(/refusing/);
    expect([1, 6]).toContain(r.code); // its probe fails, or ssh does not run in the box: not a usage error
  });
});
