// The CLI bundled from src/ into a temporary directory (esbuild, node_modules linked), for unit
// tests that run `autoharden` as a process without `npm run build`. Call in beforeAll; remove()
// in afterAll.
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface BundledCli {
  /** The temporary directory (tests may make their state below it). */
  out: string;
  /** dist/cli/main.js inside it. */
  main: string;
  remove(): void;
}

export async function bundleCli(prefix: string): Promise<BundledCli> {
  const out = mkdtempSync(join(tmpdir(), prefix));
  const main = join(out, 'dist/cli/main.js');
  await build({ entryPoints: [join(ROOT, 'src/cli/main.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: main, logLevel: 'error' });
  copyFileSync(join(ROOT, 'package.json'), join(out, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'));
  return { out, main, remove: () => rmSync(out, { recursive: true, force: true }) };
}
