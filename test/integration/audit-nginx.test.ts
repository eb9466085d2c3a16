// Closing what the audit finds, on Debian's nginx (its master runs as root): tune accepts NoExecPaths= (on the places it writes) and
// InaccessiblePaths= by trial, the battery shows the techniques they block blocked while nginx
// serves, and rolling each back makes exactly those techniques possible again. The set without the
// two is the tuned set before they existed: the difference is what closing adds.
//
// Writes under /usr and /boot are tried by the battery: the box boots from a debootstrapped root
// (an overlay), as in audit.test.ts.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, startBox, type Box } from '../harness/box.js';

const ROOT = process.env.AUTOHARDEN_TEST_ROOT || process.env.AUTOHARDEN_BOX_ROOT || '/var/cache/autoharden/roots/trixie';
const HAVE_ROOT = existsSync(join(ROOT, '.autoharden-root'));
const HAVE_BATTERY = existsSync(join(REPO, 'dist/audit/autoharden-battery'));
const canBox = process.getuid?.() === 0 && HAVE_ROOT && HAVE_BATTERY;
const UNIT = 'nginx.service';
const URL = 'http://127.0.0.1/';
const EXEC_WRITTEN = ['exec-tmp', 'exec-var-tmp', 'exec-dev-shm'];

interface Report {
  techniques: Array<{ id: string; result: string }>;
  summary: { blocked: number; applicable: number };
  complete: boolean;
  problems: string[];
}

describe.skipIf(!canBox)(`closing what the battery finds on Debian's nginx (box from ${ROOT})`, () => {
  let box: Box;
  const audit = async (): Promise<Report> => {
    const r = await box.cli(['audit', UNIT, '--json'], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.complete, rep.problems.join('; ')).toBe(true);
    return rep;
  };
  const result = (rep: Report, id: string) => rep.techniques.find((t) => t.id === id)?.result;
  const serving = async () => expect((await box.http(URL)).status).toBe(200);

  beforeAll(async () => {
    box = await startBox('aud-nginx', { root: ROOT });
    await box.check(['systemctl', 'start', 'nginx']);
  }, 90_000);

  afterAll(async () => {
    await box?.stop();
  });

  it('tune closes executing a written file and reading the password hashes while /usr stays read-only; each rollback reopens exactly its own', async () => {
    const stock = await audit();
    for (const id of [...EXEC_WRITTEN, 'read-shadow']) expect(result(stock, id), id).toBe('possible');

    const t = await box.cli(['tune', UNIT, '--probe', URL, '--settle', '1s', '--json'], { timeoutMs: 400_000 });
    expect(t.code, t.stderr).toBe(0);
    const accepted = (JSON.parse(t.stdout) as { accepted: Array<{ option: string; value: string }> }).accepted.map((a) => a.option);
    expect(accepted).toEqual(expect.arrayContaining(['NoExecPaths', 'InaccessiblePaths', 'ProtectSystem']));
    // nginx's master runs as root: noexec only on the places it writes, never / with ExecPaths=
    // (which systemd would mount writable again under ProtectSystem=strict)
    const noexec = (await box.check(['systemctl', 'show', '-p', 'NoExecPaths', '--value', UNIT])).trim().split(/\s+/).map((p) => p.replace(/^-/, ''));
    expect(noexec).toEqual(expect.arrayContaining(['/tmp', '/var/tmp', '/dev/shm']));
    expect(noexec).not.toContain('/');
    expect((await box.check(['systemctl', 'show', '-p', 'ExecPaths', '--value', UNIT])).trim()).toBe('');
    expect(await box.check(['systemctl', 'show', '-p', 'InaccessiblePaths', '--value', UNIT])).toContain('/etc/shadow');
    await serving();
    const tuned = await audit();
    for (const id of [...EXEC_WRITTEN, 'read-shadow', 'write-usr', 'write-etc', 'write-boot']) expect(result(tuned, id), id).toBe('blocked');

    // the exec mask off: the written-file techniques are possible again, the hashes stay masked
    expect((await box.cli(['rollback', UNIT, '--option', 'NoExecPaths', '--settle', '1s'])).code).toBe(0);
    await serving();
    const noExecOff = await audit();
    for (const id of EXEC_WRITTEN) expect(result(noExecOff, id), id).toBe('possible');
    expect(result(noExecOff, 'read-shadow')).toBe('blocked');

    // and the mask off too: the tuned set without what closing adds
    expect((await box.cli(['rollback', UNIT, '--option', 'InaccessiblePaths', '--settle', '1s'])).code).toBe(0);
    await serving();
    const before = await audit();
    expect(result(before, 'read-shadow')).toBe('possible');
    // the target: at least four more techniques blocked than the set without them
    expect(tuned.summary.blocked - before.summary.blocked).toBeGreaterThanOrEqual(4);
    // every other technique is as the tuned set left it
    const others = tuned.techniques.filter((x) => ![...EXEC_WRITTEN, 'exec-state', 'read-shadow'].includes(x.id));
    expect(Object.fromEntries(others.map((x) => [x.id, result(before, x.id)]))).toEqual(Object.fromEntries(others.map((x) => [x.id, x.result])));
    console.log(`nginx battery: stock ${stock.summary.blocked}/${stock.summary.applicable}, tuned without closing ${before.summary.blocked}/${before.summary.applicable}, tuned ${tuned.summary.blocked}/${tuned.summary.applicable}`);
  }, 600_000);
});
