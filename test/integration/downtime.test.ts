// Fewer restarts, less downtime (issue 14) on a real systemd: Debian's nginx is tuned with the
// capability set predicted from what the kernel records of it and SystemCallFilter revised from
// the kernel's seccomp records (SystemCallLog=), confirmed without a restart of its own, and its
// downtime measured. A forged seccomp record written to /dev/kmsg (what a root service could
// write) must change nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Box, SAMPLE_UNIT, SAMPLE_URL, boxName, startBox } from '../harness/box.js';

interface Outcome { option: string; value: string; reason: string }
interface Report {
  trials: number; restarts: number; durationMs: number; downtimeMs?: number; exposureAfter: number;
  accepted: Outcome[]; rejected: Outcome[]; skipped: Outcome[];
}

let box: Box;

async function tune(unit: string, probe: string): Promise<{ report: Report; stderr: string }> {
  const r = await box.cli(['tune', unit, '--probe', probe, '--settle', '1s', '--json'], { timeoutMs: 400_000 });
  expect(r.code, r.stderr.slice(-2000)).toBe(0);
  return { report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url));
}, 60_000);

afterAll(async () => {
  await box?.stop();
});

describe('nginx, predicted and observed', () => {
  let report: Report;
  let stderr: string;

  beforeAll(async () => {
    await box.check(['systemctl', 'start', 'nginx.service']);
    ({ report, stderr } = await tune('nginx.service', 'http://127.0.0.1/'));
  }, 420_000);

  it('verifies the capability set observation predicts (workers switch uid, port 80, root writes www-data logs)', () => {
    const caps = report.accepted.find((a) => a.option === 'CapabilityBoundingSet');
    expect(caps?.value.split(' ').sort()).toEqual(['DAC_OVERRIDE', 'NET_BIND_SERVICE', 'SETGID', 'SETUID', 'keep']);
    const empty = report.skipped.find((s) => s.option === 'CapabilityBoundingSet' && s.value === 'empty');
    expect(empty?.reason).toMatch(/SETUID \(nginx runs as uid 33/);
    // nothing left to minimise: no trial removed a capability
    expect(report.rejected.filter((r) => r.option === 'CapabilityBoundingSet')).toEqual([]);
  });

  it('does not try the filter that denies the calls the kernel logged, and keeps them in the minimisation', () => {
    const strict = report.skipped.find((s) => s.option === 'SystemCallFilter');
    expect(strict?.value).toBe('@system-service ~@privileged @resources');
    expect(strict?.reason).toMatch(/the kernel recorded .*(setgroups|setuid).* by \/usr\/sbin\/nginx \(@privileged\)/);
    const filter = report.accepted.find((a) => a.option === 'SystemCallFilter');
    expect(filter?.value).toBe('@system-service ~@resources');
    expect(report.rejected.filter((r) => r.option === 'SystemCallFilter')).toEqual([]);
  });

  it('confirms on the running invocation and reports its downtime', () => {
    expect(stderr).toMatch(/confirming the accepted set on the running nginx\.service .*no restart/);
    // a restart per trial, one more only for a revert still due at the end
    expect(report.restarts).toBeLessThanOrEqual(report.trials + 1);
    expect(report.downtimeMs).toBeGreaterThan(0);
    expect(report.downtimeMs).toBeLessThan(report.durationMs);
  });

  it('leaves nginx serving, and the trial drop-in (with its SystemCallLog= line) gone', async () => {
    expect((await box.http('http://127.0.0.1/')).status).toBe(200);
    expect(await box.readFile('/run/systemd/system/nginx.service.d/zz-autoharden-90-trial.conf')).toBeNull();
    const show = await box.show('nginx.service', ['SystemCallLog']);
    expect(show.SystemCallLog ?? '').toMatch(/^~?$/); // nothing logged (systemd shows an empty list as ~)
  });
});

describe('a forged seccomp record', () => {
  it('written to /dev/kmsg while the sample is tuned (as a root service could) revises nothing', async () => {
    await box.installSample();
    const exe = (await box.check(`readlink /proc/$(systemctl show -p MainPID --value ${SAMPLE_UNIT})/exe`)).trim();
    // a kernel-looking LOG record of setuid by the sample's own executable, every 100 ms
    const line = `<5>audit: type=1326 audit(1796225963.573:9): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=1 comm="node" exe="${exe}" sig=0 arch=c000003e syscall=105 compat=0 ip=0x0 code=0x7ffc0000`;
    await box.check(['systemd-run', '-q', '--unit=forger', '/bin/sh', '-c', `while :; do printf '%s\\n' '${line}' > /dev/kmsg; sleep 0.1; done`]);
    const seen = await box.check('dmesg | grep -c "exe=\\"' + exe + '\\".*syscall=105" || true');
    expect(Number(seen)).toBeGreaterThan(0); // the forgery is in the ring
    const { report } = await tune(SAMPLE_UNIT, SAMPLE_URL);
    await box.check(['systemctl', 'stop', 'forger']);
    expect(report.skipped.filter((s) => /kernel recorded/.test(s.reason))).toEqual([]);
  });
});
