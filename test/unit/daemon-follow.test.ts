// Following the log files a guarded unit writes: appended lines, whole lines only, rotation.
import { appendFileSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileFollower, type LogLine } from '../../src/adapters/journalFollow.js';

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

let follower: FileFollower | undefined;
afterEach(() => follower?.stop());

describe('FileFollower', () => {
  it('reports whole lines appended after it started, as "FILE: line", and follows a rotated file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-follow-'));
    const f = join(dir, 'error.log');
    writeFileSync(f, 'old line before guarding\n');
    const got: LogLine[] = [];
    follower = new FileFollower((l) => got.push(l));
    follower.follow('nginx.service', [f]);
    appendFileSync(f, '2026/01/01 10:00:00 [crit] open() "/var/lib/nginx/body/1" failed (30: Read-only file system)\npartial');
    await until(() => got.length === 1);
    expect(got[0]).toMatchObject({ unit: 'nginx.service', message: `${f}: 2026/01/01 10:00:00 [crit] open() "/var/lib/nginx/body/1" failed (30: Read-only file system)` });
    appendFileSync(f, ' line\n');
    await until(() => got.length === 2);
    expect(got[1]!.message).toBe(`${f}: partial line`);

    renameSync(f, `${f}.1`); // logrotate
    writeFileSync(f, 'first line of the new file\n');
    await until(() => got.some((l) => l.message.endsWith('first line of the new file')), 5000);

    follower.follow('nginx.service', []);
    const n = got.length;
    appendFileSync(f, 'not followed any more\n');
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toHaveLength(n);
  });
});
