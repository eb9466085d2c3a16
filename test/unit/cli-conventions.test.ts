// The command line as a user meets it, run as a process: --version, the exit codes in --help (from
// core/errors.ts, so they cannot drift), --settle taking time spans, and a unit whose lock another
// process holds: exit 75 and one line saying so. The sources are transpiled to plain JS in a
// temporary directory (no build needed, nothing in dist/ read).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TABLE, EXIT_CODES } from '../../src/core/errors.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let out = '';
let main = '';
let holder: ChildProcess | undefined;

function transpileTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const file = join(dir, e.name);
    if (e.isDirectory()) transpileTree(file);
    else if (e.name.endsWith('.ts')) {
      const js = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      const dest = join(out, 'dist', relative(join(ROOT, 'src'), file).replace(/\.ts$/, '.js'));
      mkdirSync(dirname(dest), { recursive: true });
      writeFileSync(dest, js);
    }
  }
}

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'ah-cli-'));
  transpileTree(join(ROOT, 'src'));
  copyFileSync(join(ROOT, 'package.json'), join(out, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'));
  main = join(out, 'dist/cli/main.js');
}, 180_000); // some 200 files: seconds alone, much longer beside a whole suite on 2 cores

async function stopHolder(): Promise<void> {
  const h = holder;
  holder = undefined;
  if (!h?.pid || h.exitCode !== null) return;
  const exited = new Promise((resolve) => h.once('exit', resolve));
  process.kill(-h.pid, 'SIGKILL');
  await exited;
}

afterAll(async () => {
  await stopHolder();
  if (out) rmSync(out, { recursive: true, force: true });
});

// No system bus (DBUS_SYSTEM_BUS_ADDRESS points nowhere): the CLI works on the state directory.
const cli = (args: string[]) => spawnSync(process.execPath, [main, ...args], {
  encoding: 'utf8', timeout: 60_000, env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(out, 'no-bus')}` },
});

describe('the command line', { timeout: 120_000 }, () => {
  it('prints its version with --version and -V', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = cli([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it('lists every exit code of core/errors.ts in --help', () => {
    const r = cli(['--help']);
    expect(r.status).toBe(0);
    const help = r.stdout.slice(r.stdout.indexOf('Exit codes:'));
    for (const { exit, doc } of Object.values(ERROR_TABLE)) expect(help).toMatch(new RegExp(`^  ${exit} +.*${doc.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
    expect(help).toMatch(/^ {2}0 +ok$/m);
    expect(help).toMatch(/^ {2}130, 143, 129 +stopped by SIGINT, SIGTERM or SIGHUP/m);
  });

  it('takes --settle as a systemd time span and refuses a bare number', () => {
    const help = cli(['tune', '--help']).stdout;
    expect(help).toMatch(/--settle <time>[\s\S]*\(default: 2s\)/);
    const bare = cli(['rollback', 'nginx.service', '--all', '--settle', '500', '--state-dir', join(out, 'state')]);
    expect(bare.status).toBe(EXIT_CODES.Usage);
    expect(bare.stderr).toBe('autoharden: --settle: "500" has no unit; say e.g. 500ms or 500s\n');
    const short = cli(['tune', 'nginx.service', '--settle', '5ms']);
    expect(short.status).toBe(EXIT_CODES.Usage);
    expect(short.stderr).toMatch(/--settle must be from 100ms to 10min/);
  });

  // guard pause takes the lock without systemd, but only as root (it refuses others first)
  it.skipIf(process.getuid?.() !== 0)('exits 75 with one line when another process holds the unit lock', async () => {
    const state = join(out, 'state-locked');
    mkdirSync(join(state, 'locks'), { recursive: true });
    // flock(1) on the lock file is what lock.ts takes too (flock(2) on STATE/locks/UNIT.lock)
    // its own process group, so that the holder and its sleep go together
    holder = spawn('flock', ['--exclusive', join(state, 'locks', 'demo.service.lock'), '-c', 'echo held; exec sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    await new Promise<void>((resolve, reject) => {
      holder!.stdout!.once('data', () => resolve());
      holder!.once('exit', (code) => reject(new Error(`flock exited ${code}`)));
    });
    const r = cli(['guard', 'pause', 'demo.service', '--state-dir', state]);
    expect(r.status).toBe(75);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^autoharden: demo\.service is busy: locked by .*\n$/);
    expect(r.stderr.split('\n')).toHaveLength(2); // one line
    await stopHolder();
    // once the holder is gone the lock is no obstacle (demo.service is refused for what it is: never tuned)
    const after = cli(['guard', 'pause', 'demo.service', '--state-dir', state]);
    expect(after.status).not.toBe(75);
    expect(after.stderr).not.toMatch(/locked/);
  });
});
