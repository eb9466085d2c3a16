// The npm package: `npm pack` (its prepack builds dist/, the man page and the completion) and
// `npm install -g` of the tarball into a scratch prefix (both from a scratch copy) give a working `autoharden` command, with
// its man page, and without a native addon (dbus-next's usocket resolves to the stand-in,
// test/unit/no-native-addon.test.ts). No box: nothing here touches systemd. npm installs the
// dependencies from its cache when it holds them (CI ran npm ci), else from the registry.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../harness/box.js';

const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
let tmp = '';
let tarball = '';
let prefix = '';
let pkgDir = '';

function npm(args: string[], cwd: string) {
  const r = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', timeout: 240_000 });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'autoharden-pack-'));
  // A copy of the checkout, so that prepack's build does not rewrite the dist/ that boxes of other
  // test files are running; its node_modules is the checkout's.
  const src = join(tmp, 'src');
  for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'src', 'scripts', 'systemd', 'vendor', 'docs', 'audit']) {
    cpSync(join(REPO, p), join(src, p), { recursive: true });
  }
  symlinkSync(join(REPO, 'node_modules'), join(src, 'node_modules'));
  const out = npm(['pack', '--pack-destination', tmp], src);
  tarball = join(tmp, out.trim().split('\n').pop() ?? '');
  prefix = join(tmp, 'prefix');
  npm(['install', '-g', '--prefer-offline', '--prefix', prefix, tarball], tmp);
  pkgDir = join(prefix, 'lib/node_modules/autoharden');
}, 400_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const run = (args: string[]) => spawnSync(join(prefix, 'bin/autoharden'), args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });

/** Every file under dir (relative paths), not following links. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p, base) : [p.slice(base.length + 1)];
  });
}

describe('npm pack, then npm install -g of the tarball', () => {
  it('packs what runs and what an admin installs, not the sources or the tests', () => {
    expect(tarball).toBe(join(tmp, `autoharden-${VERSION}.tgz`));
    const files = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    // the attack battery: a static binary for this machine's architecture, built by prepack
    for (const f of ['dist/cli/main.js', 'dist/cli/program.js', 'dist/man/autoharden.8', 'dist/completion/autoharden.bash', 'dist/audit/autoharden-battery',
      'systemd/autoharden.service', 'systemd/org.autoharden1.conf', 'vendor/usocket-absent/index.js', 'package.json', 'README.md']) {
      expect(files, f).toContain(`package/${f}`);
    }
    expect(files.filter((f) => /^package\/(src|test|scripts|bench|node_modules)\//.test(f) || /\.(map|ts)$/.test(f))).toEqual([]);
  });

  it('links an executable autoharden whose shebang runs node', () => {
    const bin = join(prefix, 'bin/autoharden');
    expect(lstatSync(bin).isSymbolicLink()).toBe(true);
    const target = resolve(join(prefix, 'bin'), readlinkSync(bin));
    expect(target).toBe(join(pkgDir, 'dist/cli/main.js'));
    expect(statSync(target).mode & 0o111).toBe(0o111);
    expect(readFileSync(target, 'utf8').split('\n', 1)[0]).toBe('#!/usr/bin/env node');
  });

  it('runs --version and --help', () => {
    const v = run(['--version']);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(VERSION);
    const h = run(['--help']);
    expect(h.status, h.stderr).toBe(0);
    for (const cmd of ['tune', 'enroll', 'status', 'journal', 'daemon']) expect(h.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
    const bad = run(['--no-such-flag']);
    expect(bad.status).toBe(2);
  });

  it('installs the man page, and no native addon: dbus-next gets the usocket stand-in', () => {
    const man = join(prefix, 'share/man/man8/autoharden.8');
    expect(existsSync(man)).toBe(true);
    expect(readFileSync(man, 'utf8')).toMatch(/^\.TH AUTOHARDEN 8 "[\d-]+" "autoharden [\d.]+"/m);
    expect(walk(pkgDir).filter((f) => f.endsWith('.node'))).toEqual([]);
    const require = createRequire(join(pkgDir, 'node_modules/dbus-next/lib/connection.js'));
    expect(() => require('usocket')).toThrow(/net module/);
  });
});
