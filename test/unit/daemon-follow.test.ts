// Following the log files a guarded unit writes: appended lines, whole lines only, rotation.
import { appendFileSync, closeSync, mkdirSync, openSync, writeSync, mkdtempSync, realpathSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileFollower, type LogLine } from '../../src/adapters/journalFollow.js';
import { mkfifo, unblocker, type Unblocker } from './fifo.js';

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

let follower: FileFollower | undefined;
let helper: Unblocker | undefined;
afterEach(() => {
  follower?.stop();
  helper?.proc.kill();
});

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

  it('never blocks on a log swapped for a FIFO, never reads through a symlink, and recovers', async () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'ah-follow-')));
    const logs = join(root, 'logs');
    mkdirSync(logs);
    const f = join(logs, 'error.log');
    const secret = join(root, 'shadow');
    writeFileSync(secret, 'SECRET root:$6$hash\n');
    writeFileSync(f, 'before\n');
    const got: LogLine[] = [];
    const errors: string[] = [];
    follower = new FileFollower((l) => got.push(l), (m) => errors.push(m));
    follower.follow('evil.service', [f]);
    appendFileSync(f, 'line one\n');
    await until(() => got.some((l) => l.message === `${f}: line one`));

    // A FIFO with no writer: an open without O_NONBLOCK would freeze the event loop right here.
    unlinkSync(f);
    mkfifo(f);
    helper = unblocker(f);
    await until(() => errors.some((m) => m === `${f} is a FIFO; not read`));
    const blocked = helper.released();
    helper.proc.kill();

    // A symlink to a file the service could not read itself.
    unlinkSync(f);
    symlinkSync(secret, f);
    appendFileSync(secret, 'SECRET more\n');
    await until(() => errors.some((m) => m === `${f} is a symlink; not read`));

    // The log directory swapped for a symlink to another directory holding an error.log.
    const other = join(root, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'error.log'), 'SECRET through the directory\n');
    renameSync(logs, `${logs}.old`);
    symlinkSync(other, logs);
    await until(() => errors.some((m) => m.startsWith(`${f} is reached through a symlink`)));

    // A regular file again: followed from its start.
    unlinkSync(logs);
    mkdirSync(logs);
    writeFileSync(f, 'back to normal\n');
    await until(() => got.some((l) => l.message === `${f}: back to normal`));
    expect(got.filter((l) => l.message.includes('SECRET'))).toEqual([]);
    expect(blocked || helper.released()).toBe(false); // nobody ever waited in open() on the FIFO
  });

  it('keeps following when the log is replaced while the service still holds it open', async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'ah-follow-')));
    const f = join(dir, 'error.log');
    const secret = join(dir, 'shadow');
    writeFileSync(secret, 'SECRET\n');
    writeFileSync(f, '');
    const held = openSync(f, 'a'); // unlinking then only changes the link count: no 'rename' event
    const got: LogLine[] = [];
    const errors: string[] = [];
    follower = new FileFollower((l) => got.push(l), (m) => errors.push(m));
    follower.follow('evil.service', [f]);
    try {
      writeSync(held, 'one\n');
      await until(() => got.some((l) => l.message === `${f}: one`));
      unlinkSync(f);
      symlinkSync(secret, f);
      writeSync(held, 'to the unlinked file\n');
      await until(() => errors.includes(`${f} is a symlink; not read`));
      unlinkSync(f);
      writeFileSync(f, 'two\n');
      await until(() => got.some((l) => l.message === `${f}: two`));
      expect(got.filter((l) => l.message.includes('SECRET'))).toEqual([]);
    } finally {
      closeSync(held);
    }
  });

  it('cuts a giant line to a bounded length', async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'ah-follow-')));
    const f = join(dir, 'error.log');
    writeFileSync(f, '');
    const got: LogLine[] = [];
    follower = new FileFollower((l) => got.push(l));
    follower.follow('evil.service', [f]);
    appendFileSync(f, `${'A'.repeat(100_000)}\nshort\n`);
    await until(() => got.some((l) => l.message === `${f}: short`));
    expect(got.map((l) => l.message.length)).toEqual([`${f}: `.length + 4096, `${f}: short`.length]);
  });
});
