// The CLI's output through a pipe that a reader empties slowly arrives whole: process.exit() must
// not drop what the pipe has not taken yet (a large `journal --json` was cut short). Runs the
// built CLI (npm test builds first); no box needed.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../harness/box.js';

describe('CLI output on a pipe', () => {
  it('delivers a large journal --json whole to a slow reader', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-out-'));
    mkdirSync(join(dir, 'journal'));
    const rec = (i: number) => JSON.stringify({ t: new Date(0).toISOString(), unit: 'x.service', kind: 'skipped', option: 'PrivateTmp', value: 'yes', reason: `r${i} ${'x'.repeat(200)}` });
    writeFileSync(join(dir, 'journal', 'x.service.jsonl'), Array.from({ length: 3000 }, (_, i) => `${rec(i)}\n`).join(''));
    const child = spawn('node', [join(REPO, 'dist/cli/main.js'), 'journal', 'x.service', '--json', '--state-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pause(); // the reader takes its time: the CLI finishes before the pipe is emptied
    await new Promise((r) => setTimeout(r, 1500));
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stdout.resume();
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(code).toBe(0);
    const records = JSON.parse(out) as Array<{ reason: string }>;
    expect(records).toHaveLength(3000);
    expect(records.at(-1)!.reason).toMatch(/^r2999 /);
  });
});
