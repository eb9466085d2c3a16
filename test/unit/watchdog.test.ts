// The daemon's watchdog in real child processes: one whose event loop hangs in a busy loop is
// killed by it (SIGABRT, with one log line), one whose loop keeps running outlives the limit and
// exits by itself. The children load the module compiled by TypeScript's transpiler, so the
// test does not depend on dist/.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_WATCHDOG_MS, watchdogLimit } from '../../src/daemon/watchdog.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'autoharden-watchdog-'));
  const src = readFileSync(resolve(import.meta.dirname, '../../src/daemon/watchdog.ts'), 'utf8');
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  writeFileSync(join(dir, 'watchdog.mjs'), js);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Exit { status: number | null; signal: NodeJS.Signals | null; stderr: string }

/** Runs a module next to the compiled watchdog; no core file when it is aborted. */
function child(name: string, body: string): Promise<Exit> {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, `import { startWatchdog } from './watchdog.mjs';\n${body}\n`);
  return new Promise((res, rej) => {
    const p = spawn('/bin/sh', ['-c', 'ulimit -c 0; exec "$0" "$1"', process.execPath, file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.on('error', rej);
    p.on('close', (status, signal) => res({ status, signal, stderr }));
  });
}

describe('the watchdog', () => {
  it('kills a process whose event loop hangs, with one log line', async () => {
    // Exit 3 means it hung 30 s and nothing killed it.
    const r = await child('stall', `
      startWatchdog({ limitMs: 1000, prefix: '<2>' });
      setTimeout(() => { const end = Date.now() + 30_000; while (Date.now() < end); process.exit(3); }, 50);`);
    expect(r.status).toBeNull();
    expect(r.signal).toBe('SIGABRT');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^<2>\{/);
    const rec = JSON.parse(lines[0]!.slice(3)) as { level: number; msg: string };
    expect(rec.level).toBe(60);
    expect(rec.msg).toMatch(/event loop has not run for \d+ ms \(limit 1000 ms\)/);
  }, 40_000);

  it('leaves a process whose loop runs alone past the limit, and does not keep it alive', async () => {
    // Three limits of timers and promises; then nothing is left but the watchdog, and it must exit.
    const r = await child('alive', `
      startWatchdog({ limitMs: 1000 });
      const t0 = performance.now();
      const tick = () => { if (performance.now() - t0 < 3000) setTimeout(() => Promise.resolve().then(tick), 100); };
      tick();`);
    expect(r).toEqual({ status: 0, signal: null, stderr: '' });
  }, 40_000);

  it('can be stopped', async () => {
    const r = await child('stopped', `
      const w = startWatchdog({ limitMs: 300 });
      await w.stop();
      const end = Date.now() + 1500; while (Date.now() < end);`);
    expect(r).toEqual({ status: 0, signal: null, stderr: '' });
  }, 40_000);
});

describe('watchdogLimit', () => {
  it('reads AUTOHARDEN_WATCHDOG_MS; 0 turns it off; junk means the default', () => {
    expect(watchdogLimit({})).toBe(DEFAULT_WATCHDOG_MS);
    expect(watchdogLimit({ AUTOHARDEN_WATCHDOG_MS: '1500' })).toBe(1500);
    expect(watchdogLimit({ AUTOHARDEN_WATCHDOG_MS: '0' })).toBe(0);
    expect(watchdogLimit({ AUTOHARDEN_WATCHDOG_MS: '-5' })).toBe(DEFAULT_WATCHDOG_MS);
    expect(watchdogLimit({ AUTOHARDEN_WATCHDOG_MS: '1e3x' })).toBe(DEFAULT_WATCHDOG_MS);
  });
});
