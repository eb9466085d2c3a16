// Files a root process touches in places a hostile service (or a careless admin) can influence:
// drop-in directories and files, temporary names, short writes, and the service's own log files.
import { randomBytes } from 'node:crypto';
import {
  appendFileSync, closeSync, constants, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, renameSync, symlinkSync, unlinkSync,
  writeFileSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DropIns } from '../../src/adapters/dropins.js';
import { appendLineDurable, writeFileDurable, type WriteFn } from '../../src/adapters/fsutil.js';
import { linesSince, logOffsets, tails } from '../../src/adapters/logFiles.js';
import { MARKER } from '../../src/core/dropin.js';
import { openRegular } from '../../src/adapters/safeOpen.js';
import { mkfifo, unblocker, type Unblocker } from './fifo.js';

// Lets a test force the "random" part of a temporary name, to plant something at it first.
vi.mock('node:crypto', async (importOriginal) => {
  const m = await importOriginal<typeof import('node:crypto')>();
  return { ...m, randomBytes: vi.fn(m.randomBytes) };
});

const s = (option: string, value: string) => ({ option, value, lines: [`${option}=${value}`] });
const TRIAL = 'zz-autoharden-90-trial.conf';
const ACCEPTED = 'zz-autoharden-50-accepted.conf';

function root(): string {
  return realpathSync(mkdtempSync(join(tmpdir(), 'ah-fs-')));
}

function setup() {
  const r = root();
  const dirs = { run: join(r, 'run'), etc: join(r, 'etc') };
  mkdirSync(dirs.run);
  mkdirSync(dirs.etc);
  return { r, dirs, io: new DropIns(join(r, 'state'), dirs) };
}

/** The error `f` throws: one line, naming the file. */
function failure(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('did not throw');
}

let helper: Unblocker | undefined;
afterEach(() => {
  helper?.proc.kill();
  helper = undefined;
  vi.mocked(randomBytes).mockReset();
});

describe('drop-ins as root', () => {
  it('refuses a UNIT.d that is a symlink (or not a directory), and writes nothing where it points', () => {
    const { r, dirs, io } = setup();
    const elsewhere = join(r, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(dirs.run, 'x.service.d'));
    expect(failure(() => io.writeTrial('x.service', [s('PrivateTmp', 'yes')]))).toMatch(/x\.service\.d is a symlink/);
    expect(failure(() => io.removeTrial('x.service'))).toMatch(/symlink/);
    expect(() => io.hasTrial('x.service')).toThrow(/symlink/);
    expect(readdirSync(elsewhere)).toEqual([]);

    writeFileSync(join(dirs.etc, 'x.service.d'), 'not a directory');
    expect(failure(() => io.writeAccepted('x.service', [s('PrivateTmp', 'yes')], 'etc'))).toMatch(/x\.service\.d is not a directory/);
  });

  it('refuses a drop-in that is a symlink, even to a file carrying the marker', () => {
    const { r, dirs, io } = setup();
    const target = join(r, 'target.conf');
    writeFileSync(target, `${MARKER}\n[Service]\n`);
    mkdirSync(join(dirs.run, 'x.service.d'));
    const link = join(dirs.run, 'x.service.d', TRIAL);
    symlinkSync(target, link);
    expect(failure(() => io.writeTrial('x.service', [s('PrivateTmp', 'yes')]))).toContain(`${link} is a symlink`);
    expect(failure(() => io.removeTrial('x.service'))).toContain(link);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe(`${MARKER}\n[Service]\n`);

    symlinkSync(target, join(dirs.run, 'x.service.d', ACCEPTED));
    expect(() => io.readAccepted('x.service')).toThrow(/symlink/);
  });

  it('refuses a file with the marker that autoharden did not write, or that someone edited since', () => {
    const { dirs, io } = setup();
    const p = io.writeTrial('x.service', [s('PrivateTmp', 'yes')]);
    appendFileSync(p, 'ExecStartPre=+/usr/bin/touch /etc/x\n');
    const edited = readFileSync(p, 'utf8');
    expect(failure(() => io.writeTrial('x.service', [s('ProtectHome', 'yes')]))).toBe(
      `${p} carries autoharden's marker but is not what autoharden wrote (edited by someone else?); refusing to touch it`,
    );
    expect(failure(() => io.removeTrial('x.service'))).toContain(p);
    expect(readFileSync(p, 'utf8')).toBe(edited);

    // Planted by someone else, marker and all, where autoharden never wrote.
    mkdirSync(join(dirs.etc, 'y.service.d'));
    const planted = join(dirs.etc, 'y.service.d', ACCEPTED);
    writeFileSync(planted, `${MARKER}\n[Service]\nProtectSystem=no\n`);
    expect(failure(() => io.writeAccepted('y.service', [s('PrivateTmp', 'yes')], 'etc'))).toContain(planted);
    expect(readFileSync(planted, 'utf8')).toBe(`${MARKER}\n[Service]\nProtectSystem=no\n`);
  });

  it('accepts what it wrote and re-wrote, and either version across a crash between record and rename', () => {
    const { r, io } = setup();
    const p = io.writeAccepted('x.service', [s('PrivateTmp', 'yes')], 'run')!;
    const first = readFileSync(p);
    io.writeAccepted('x.service', [s('PrivateTmp', 'yes'), s('ProtectHome', 'yes')], 'run');
    const second = readFileSync(p);
    expect(second.equals(first)).toBe(false);
    const registry = JSON.parse(readFileSync(join(r, 'state', 'written', 'x.service.json'), 'utf8')) as Record<string, string[]>;
    expect(registry[p]).toHaveLength(2);

    // As if the last rename never happened: the previous content is still recognised.
    writeFileSync(p, first);
    io.writeAccepted('x.service', [s('ProtectHome', 'yes')], 'etc'); // moves it: removes the /run file
    expect(readdirSync(join(r, 'run'))).toEqual([]);
    expect(io.acceptedWhere('x.service')).toBe('etc');
    expect(io.writeAccepted('x.service', [], 'etc')).toBeUndefined();
    expect(io.acceptedWhere('x.service')).toBeUndefined();
  });
});

describe('durable writes', () => {
  it('never writes through a symlink planted at a temporary name, old or new', () => {
    const r = root();
    const victim = join(r, 'shadow');
    writeFileSync(victim, 'root:x:0:0\n');
    const target = join(r, 'f.conf');
    symlinkSync(victim, join(r, '.f.conf.tmp')); // the name the old code used
    vi.mocked(randomBytes).mockImplementationOnce(() => Buffer.alloc(8));
    symlinkSync(victim, join(r, `.f.conf.${'00'.repeat(8)}.tmp`)); // the name it will try first

    writeFileDurable(target, 'new\n');
    expect(vi.mocked(randomBytes)).toHaveBeenCalledTimes(2); // the planted name was refused, not used
    expect(readFileSync(target, 'utf8')).toBe('new\n');
    expect(readFileSync(victim, 'utf8')).toBe('root:x:0:0\n');
    expect(readdirSync(r).sort()).toEqual(['.f.conf.0000000000000000.tmp', '.f.conf.tmp', 'f.conf', 'shadow']);

    // Every name taken: it gives up rather than use one it did not create.
    vi.mocked(randomBytes).mockImplementation(() => Buffer.alloc(8));
    expect(() => writeFileDurable(target, 'newer\n')).toThrow(/EEXIST/);
    expect(readFileSync(target, 'utf8')).toBe('new\n');
    expect(readFileSync(victim, 'utf8')).toBe('root:x:0:0\n');
  });

  it('loops over short writes, and fails without leaving a temporary file when no byte goes out', () => {
    const r = root();
    const calls: number[] = [];
    const trickle: WriteFn = (fd, buf, off, len) => {
      calls.push(len);
      return writeSync(fd, buf, off, Math.min(len, 3));
    };
    const text = 'a line longer than three bytes\n';
    writeFileDurable(join(r, 'f.conf'), text, 0o644, trickle);
    expect(readFileSync(join(r, 'f.conf'), 'utf8')).toBe(text);
    expect(calls.length).toBe(Math.ceil(Buffer.byteLength(text) / 3));
    appendLineDurable(join(r, 'j.jsonl'), '{"kind":"trial-begin"}', trickle);
    appendLineDurable(join(r, 'j.jsonl'), '{"kind":"trial-end"}', trickle);
    expect(readFileSync(join(r, 'j.jsonl'), 'utf8')).toBe('{"kind":"trial-begin"}\n{"kind":"trial-end"}\n');

    const stuck: WriteFn = (fd, buf, off, len) => (off === 0 ? writeSync(fd, buf, off, Math.min(len, 3)) : 0);
    expect(() => writeFileDurable(join(r, 'f.conf'), 'replacement text\n', 0o644, stuck)).toThrow(/no progress/);
    expect(readFileSync(join(r, 'f.conf'), 'utf8')).toBe(text);
    expect(readdirSync(r).sort()).toEqual(['f.conf', 'j.jsonl']);
  });

  it('never appends through a symlink', () => {
    const r = root();
    writeFileSync(join(r, 'victim'), 'x\n');
    symlinkSync(join(r, 'victim'), join(r, 'j.jsonl'));
    expect(() => appendLineDurable(join(r, 'j.jsonl'), '{}')).toThrow(/ELOOP/);
    expect(readFileSync(join(r, 'victim'), 'utf8')).toBe('x\n');
  });
});

describe("reading the service's log files", () => {
  function logDir() {
    const r = root();
    const logs = join(r, 'logs');
    mkdirSync(logs);
    const secret = join(r, 'shadow');
    writeFileSync(secret, 'SECRET root:$6$hash\n');
    return { r, logs, f: join(logs, 'error.log'), secret };
  }

  it('skips a FIFO without waiting for a writer', () => {
    const { f } = logDir();
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    const before = logOffsets([f], warn); // absent
    mkfifo(f);
    helper = unblocker(f);
    expect(linesSince(before, warn)).toEqual([]);
    expect(tails([f], undefined, warn)).toEqual([]);
    expect(logOffsets([f], warn)[f]).toMatchObject({ offset: 0 });
    expect(warnings).toEqual([`${f} is a FIFO; not read`, `${f} is a FIFO; not read`, `${f} is a FIFO; not read`]);
  });

  it('opens non-blocking, so that a FIFO swapped in after any look cannot stall the reader', () => {
    const { f } = logDir();
    writeFileSync(f, 'x\n');
    const o = openRegular(f)!;
    try {
      const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${o.fd}`, 'utf8'))![1]!;
      expect(parseInt(flags, 8) & constants.O_NONBLOCK).toBe(constants.O_NONBLOCK);
    } finally {
      closeSync(o.fd);
    }
  });

  it('never reads through a symlink, in the last component or any directory above it', () => {
    const { r, logs, f, secret } = logDir();
    writeFileSync(f, 'old\n');
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    const before = logOffsets([f], warn);

    unlinkSync(f);
    symlinkSync(secret, f);
    expect(linesSince(before, warn)).toEqual([]);
    expect(tails([f], undefined, warn)).toEqual([]);
    expect(warnings.at(-1)).toBe(`${f} is a symlink; not read`);

    const other = join(r, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'error.log'), 'SECRET through the directory\n');
    renameSync(logs, `${logs}.old`);
    symlinkSync(other, logs);
    expect(linesSince(before, warn)).toEqual([]);
    expect(linesSince(logOffsets([f], warn), warn)).toEqual([]);
    expect(tails([f], undefined, warn)).toEqual([]);
    expect(warnings.at(-1)).toMatch(/error\.log is reached through a symlink/);
  });

  it('reads a rotated file (another inode) from its start, even when it is longer than the old offset', () => {
    const { f } = logDir();
    writeFileSync(f, 'a line in the old file\n');
    const before = logOffsets([f]);
    renameSync(f, `${f}.1`);
    writeFileSync(f, 'first line of the new file, longer than the old one\nsecond\n');
    expect(linesSince(before)).toEqual([`${f}: first line of the new file, longer than the old one`, `${f}: second`]);

    // Same file: only what was appended.
    const now = logOffsets([f]);
    appendFileSync(f, 'third\n');
    expect(linesSince(now)).toEqual([`${f}: third`]);
  });

  it('cuts each line to a bounded length', () => {
    const { f } = logDir();
    writeFileSync(f, '');
    const before = logOffsets([f]);
    appendFileSync(f, `${'A'.repeat(100_000)}\nshort\n`);
    const lines = linesSince(before);
    expect(lines.map((l) => l.length)).toEqual([`${f}: `.length + 4096, `${f}: short`.length]);
  });
});
