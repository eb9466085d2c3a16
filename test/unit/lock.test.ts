// The unit lock across processes: N processes race for it over several rounds and exactly one
// holds it each round; a holder killed with SIGKILL leaves nothing stale (nor does its child, which
// must not inherit the lock); an empty or stale-pid lock file is no obstacle; aliases mapped to one
// canonical Id exclude each other; the refusal names the holder's pid and command.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockUnit } from '../../src/adapters/lock.js';
import { AutohardenError, EXIT_CODES } from '../../src/core/errors.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));
let out = '';

/** lock.ts and what it imports, transpiled to plain JS for child processes (no build needed). */
function transpile(file: string, seen = new Set<string>()): void {
  if (seen.has(file)) return;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  const js = ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const dest = join(out, relative(SRC, file).replace(/\.ts$/, '.js'));
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, js);
  for (const m of text.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) transpile(resolve(dirname(file), `${m[1]}.ts`), seen);
}

// A contender: says "ready", then for each "go" tries once and reports; a holder keeps the lock
// until "release" (or until it is killed). With "child", a holder first starts a long-lived child.
const WORKER = `
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { lockUnit } from './adapters/lock.js';
const [stateDir, unit, key, mode] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const next = async () => (await lines.next()).value;
console.log('ready');
while ((await next()) === 'go') {
  let release;
  try {
    release = lockUnit(stateDir, unit, key);
  } catch (e) {
    console.log('busy ' + e.code + ' ' + e.message);
    continue;
  }
  if (mode === 'child') console.log('child ' + spawn('sleep', ['60'], { stdio: 'ignore', detached: true }).pid);
  console.log('got ' + process.pid);
  await next();
  release();
  console.log('released');
}
process.exit(0);
`;

interface Contender {
  proc: ChildProcessWithoutNullStreams;
  /** The next line starting with one of the prefixes, from the output not consumed yet. */
  next(...prefixes: string[]): Promise<string>;
}

function contender(stateDir: string, unit: string, key: string, mode = ''): Contender {
  const proc = spawn(process.execPath, [join(out, 'worker.mjs'), stateDir, unit, key, mode]);
  live.push(proc);
  const lines: string[] = [];
  let wake = () => {};
  let ended = false;
  createInterface({ input: proc.stdout }).on('line', (l) => {
    lines.push(l);
    wake();
  });
  proc.once('exit', () => {
    ended = true;
    wake();
  });
  return {
    proc,
    async next(...prefixes) {
      for (;;) {
        const i = lines.findIndex((l) => prefixes.some((p) => l.startsWith(p)));
        if (i >= 0) return lines.splice(0, i + 1).at(-1)!;
        if (ended) throw new Error(`exited without ${prefixes.join('/')}`);
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

const exited = (p: ChildProcessWithoutNullStreams) =>
  p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.once('exit', () => r()));

async function start(stateDir: string, names: [string, string][], mode = ''): Promise<Contender[]> {
  const cs = names.map(([u, k]) => contender(stateDir, u, k, mode));
  await Promise.all(cs.map((c) => c.next('ready')));
  return cs;
}

/** Tells every contender "go" at once; each answers "got PID" or "busy CODE MESSAGE". */
async function race(cs: Contender[]): Promise<string[]> {
  for (const c of cs) c.proc.stdin.write('go\n');
  return Promise.all(cs.map((c) => c.next('got', 'busy')));
}

/** A race that must have exactly one holder: returns it and the others' refusals. */
async function round(cs: Contender[]): Promise<{ holder: Contender; refusals: string[] }> {
  const results = await race(cs);
  const holders = cs.filter((_, i) => results[i]!.startsWith('got'));
  expect(holders, results.join('\n')).toHaveLength(1);
  return { holder: holders[0]!, refusals: results.filter((r) => r.startsWith('busy')) };
}

async function release(c: Contender): Promise<void> {
  c.proc.stdin.write('release\n');
  await c.next('released');
}

const live: ChildProcessWithoutNullStreams[] = [];
beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'ah-lockjs-'));
  transpile(join(SRC, 'adapters/lock.ts'));
  writeFileSync(join(out, 'worker.mjs'), WORKER);
});
afterAll(() => {
  for (const p of live) p.kill('SIGKILL');
});

describe('unit lock across processes', () => {
  it('lets exactly one of six racing processes hold it, round after round, and names the holder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-lock-'));
    const path = join(dir, 'locks', 'ssh.service.lock');
    // aliases: ssh and sshd, both keyed by the canonical Id ssh.service
    const cs = await start(dir, Array.from({ length: 6 }, (_, i) => [i % 2 ? 'sshd.service' : 'ssh.service', 'ssh.service']));
    for (let r = 0; r < 6; r++) {
      // Round 1 finds no file; 2 an empty one; 3 one naming a dead pid; later ones what the last holder left.
      if (r === 1) writeFileSync(path, '');
      if (r === 2) writeFileSync(path, '999999999\nnode gone\n');
      const { holder, refusals } = await round(cs);
      const pid = holder.proc.pid!;
      expect(refusals).toHaveLength(5);
      for (const m of refusals) {
        expect(m).toMatch(/^busy Locked sshd?\.service is busy: locked by /);
        expect(m).toContain(`locked by ${pid} (`);
        expect(m).toContain('worker.mjs');
      }
      expect(readFileSync(path, 'utf8')).toMatch(new RegExp(`^${pid}\\n.*worker\\.mjs`));
      await release(holder);
      expect(existsSync(path)).toBe(true); // never unlinked
    }
    for (const c of cs) c.proc.stdin.end();
    await Promise.all(cs.map((c) => exited(c.proc)));
  }, 60_000);

  it('is free once its holder is killed with SIGKILL, even though the holder left a child running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-lock-'));
    const [first] = await start(dir, [['a.service', 'a.service']], 'child');
    first!.proc.stdin.write('go\n');
    const childPid = Number((await first!.next('child')).split(' ')[1]);
    await first!.next('got');
    try {
      first!.proc.kill('SIGKILL');
      await exited(first!.proc);
      expect(readFileSync(join(dir, 'locks', 'a.service.lock'), 'utf8')).toMatch(new RegExp(`^${first!.proc.pid}\\n`)); // stale content
      const cs = await start(dir, Array.from({ length: 6 }, () => ['a.service', 'a.service'] as [string, string]));
      const next = await round(cs);
      expect(next.refusals.every((m) => m.includes(`locked by ${next.holder.proc.pid} (`))).toBe(true);
    } finally {
      process.kill(childPid, 'SIGKILL');
    }
  }, 60_000);

  it('keeps out another lock of this very process, and a different key does not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-lock-'));
    const held = lockUnit(dir, 'sshd.service', 'ssh.service');
    let err: unknown;
    try {
      lockUnit(dir, 'ssh.service');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AutohardenError);
    expect(err).toMatchObject({ code: 'Locked', message: expect.stringContaining(`locked by ${process.pid} (`) });
    expect(EXIT_CODES.Locked).toBe(75);
    lockUnit(dir, 'sshd.service')(); // its own key: another lock
    // A process outside sees it held too, then free once released (twice is harmless).
    const [outside] = await start(dir, [['x.service', 'ssh.service']]);
    expect((await race([outside!]))[0]).toMatch(new RegExp(`^busy Locked x\\.service is busy: locked by ${process.pid} \\(`));
    held();
    held();
    expect((await race([outside!]))[0]).toBe(`got ${outside!.proc.pid}`);
    expect(() => lockUnit(dir, 'x.service', '../etc/passwd')).toThrow(/invalid unit name/);
  }, 60_000);
});
