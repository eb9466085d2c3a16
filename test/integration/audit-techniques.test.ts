// Each technique of the battery against one setting that blocks it, on a real systemd: with the
// stock sample every listed technique is possible; with the setting in a drop-in exactly the
// techniques that setting predicts turn blocked and nothing else moves; without it again, the
// stock results come back. A root service and a non-root one (setuid-binary needs a user).
//
// Writes under /usr and /boot are tried (O_TMPFILE): the box boots from a debootstrapped root, an
// overlay, as in audit.test.ts.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, SAMPLE_UNIT, startBox, type Box } from '../harness/box.js';

const ROOT = process.env.AUTOHARDEN_TEST_ROOT || process.env.AUTOHARDEN_BOX_ROOT || '/var/cache/autoharden/roots/trixie';
const HAVE_ROOT = existsSync(join(ROOT, '.autoharden-root'));
const HAVE_BATTERY = existsSync(join(REPO, 'dist/audit/autoharden-battery'));
const canBox = process.getuid?.() === 0 && HAVE_ROOT && HAVE_BATTERY;
const USER_UNIT = 'aud-user.service';

interface Report {
  techniques: Array<{ id: string; result: string }>;
  complete: boolean;
  problems: string[];
}

/** The setting, and every technique it blocks in this box (the rest must not move). */
const CASES: Array<{ unit: string; lines: string[]; flips: string[] }> = [
  { unit: SAMPLE_UNIT, lines: ['ProtectSystem=yes'], flips: ['write-usr', 'write-boot'] },
  { unit: SAMPLE_UNIT, lines: ['ProtectSystem=full'], flips: ['write-usr', 'write-boot', 'write-etc'] },
  { unit: SAMPLE_UNIT, lines: ['ProtectHome=yes'], flips: ['read-root', 'read-home'] },
  { unit: SAMPLE_UNIT, lines: ['InaccessiblePaths=/etc/shadow'], flips: ['read-shadow'] },
  // NoExecPaths=/ alone does not reach PrivateTmp's /tmp: the path must be named
  { unit: SAMPLE_UNIT, lines: ['PrivateTmp=yes', 'NoExecPaths=/tmp /var/tmp'], flips: ['exec-tmp', 'exec-var-tmp'] },
  { unit: SAMPLE_UNIT, lines: ['NoExecPaths=/dev/shm'], flips: ['exec-dev-shm'] },
  { unit: SAMPLE_UNIT, lines: ['SystemCallFilter=~memfd_create'], flips: ['exec-memfd'] },
  { unit: SAMPLE_UNIT, lines: ['SystemCallFilter=~@debug'], flips: ['ptrace-child'] },
  { unit: SAMPLE_UNIT, lines: ['RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6'], flips: ['netlink-socket'] },
  { unit: SAMPLE_UNIT, lines: ['CapabilityBoundingSet=~CAP_NET_RAW'], flips: ['raw-socket'] },
  { unit: SAMPLE_UNIT, lines: ['CapabilityBoundingSet=~CAP_SYS_TIME'], flips: ['set-clock'] },
  // load-module and read-disk are not here: these boxes refuse them before any setting (the
  // machine's own bounding set; no block device in the box's /dev)
  // ProtectHostname= also makes /proc/sys/kernel/hostname read-only, which write-sysctl tries
  { unit: SAMPLE_UNIT, lines: ['ProtectHostname=yes'], flips: ['set-hostname', 'write-sysctl'] },
  { unit: SAMPLE_UNIT, lines: ['ProtectKernelTunables=yes'], flips: ['write-sysctl'] },
  { unit: SAMPLE_UNIT, lines: ['RestrictNamespaces=yes'], flips: ['user-namespace'] },
  { unit: SAMPLE_UNIT, lines: ['MemoryDenyWriteExecute=yes'], flips: ['wx-memory'] },
  { unit: SAMPLE_UNIT, lines: ['ProtectKernelLogs=yes'], flips: ['read-kernel-log'] },
  { unit: SAMPLE_UNIT, lines: ['PrivateDevices=yes'], flips: ['read-kernel-log'] },
  { unit: SAMPLE_UNIT, lines: ['PrivatePIDs=yes'], flips: ['see-processes'] },
  { unit: USER_UNIT, lines: ['NoNewPrivileges=yes'], flips: ['setuid-binary'] },
];

describe.skipIf(!canBox)(`each technique against the setting that blocks it (box from ${ROOT})`, () => {
  let box: Box;
  const stock = new Map<string, Record<string, string>>();
  const dropIn = (unit: string) => `/run/systemd/system/${unit}.d/aud-technique.conf`;

  const audit = async (unit: string): Promise<Record<string, string>> => {
    const r = await box.cli(['audit', unit, '--json'], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.complete, rep.problems.join('; ')).toBe(true);
    return Object.fromEntries(rep.techniques.map((t) => [t.id, t.result]));
  };
  const setDropIn = async (unit: string, lines: string[] | null) => {
    const path = dropIn(unit);
    if (lines === null) await box.sh(`rm -f ${path}`);
    else await box.writeFile(path, `[Service]\n${lines.join('\n')}\n`);
    await box.check(['systemctl', 'daemon-reload']);
  };

  beforeAll(async () => {
    box = await startBox('aud-tech', { root: ROOT });
    await box.installSample();
    await box.sh('mkdir -p /home/alice && echo x > /home/alice/notes && echo x > /root/notes');
    await box.writeFile(`/etc/systemd/system/${USER_UNIT}`, '[Service]\nUser=nobody\nExecStart=/usr/bin/sleep infinity\n');
    await box.check(['systemctl', 'daemon-reload']);
    await box.check(['systemctl', 'start', USER_UNIT]);
    for (const unit of [SAMPLE_UNIT, USER_UNIT]) stock.set(unit, await audit(unit));
  }, 180_000);

  afterAll(async () => {
    await box?.stop();
  });

  it.each(CASES)('$lines: blocks $flips and nothing else', async ({ unit, lines, flips }) => {
    const before = stock.get(unit)!;
    for (const id of flips) expect(before[id], `${id} in the stock ${unit}`).toBe('possible');
    await setDropIn(unit, lines);
    try {
      const on = await audit(unit);
      const moved = Object.keys(before).filter((id) => on[id] !== before[id]).sort();
      expect(moved).toEqual([...flips].sort());
      for (const id of flips) expect(on[id], id).toBe('blocked');
    } finally {
      await setDropIn(unit, null);
    }
    expect(await audit(unit)).toEqual(before);
  }, 240_000);
});
