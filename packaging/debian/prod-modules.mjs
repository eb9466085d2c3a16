#!/usr/bin/env node
// Copies the production node_modules of package-lock.json from this checkout's node_modules (as
// `npm ci` left it) into DEST: every package the lock does not mark dev, at the lock's version, so
// the package installs offline and exactly what CI tested. The usocket stand-in, a link into
// vendor/, is copied as a directory.
//   node packaging/debian/prod-modules.mjs DEST_NODE_MODULES
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dest = process.argv[2];
if (!dest) throw new Error('usage: prod-modules.mjs DEST_NODE_MODULES');
const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8'));

let copied = 0;
for (const [path, e] of Object.entries(lock.packages)) {
  if (!path.startsWith('node_modules/') || e.dev || e.extraneous) continue;
  const src = join(repo, e.link ? e.resolved : path);
  if (!existsSync(src)) {
    if (e.optional) continue; // an optional package for another platform
    throw new Error(`${path} is in package-lock.json but not in node_modules: run npm ci first`);
  }
  const version = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8')).version;
  const want = e.link ? lock.packages[e.resolved]?.version : e.version;
  if (version !== want) throw new Error(`${path} is ${version} in node_modules, ${want} in package-lock.json: run npm ci first`);
  const to = join(dest, path.slice('node_modules/'.length));
  mkdirSync(dirname(to), { recursive: true });
  // nested node_modules are entries of their own in the lock: copied when their turn comes
  cpSync(src, to, { recursive: true, dereference: true, filter: (s) => s === src || !s.slice(src.length).includes('/node_modules') });
  copied++;
}
console.error(`prod-modules: ${copied} packages`);
