#!/usr/bin/env node
// debian/copyright (machine-readable format 1.0) for the package: autoharden's own MIT license,
// then every bundled node module with the license its package.json declares (its license file
// ships beside it in /usr/lib/autoharden/node_modules).
//   node packaging/debian/copyright.mjs NODE_MODULES_DIR YEAR
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const MIT = `Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:
.
The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.
.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.`;

/** Every package under node_modules, scoped ones included, nested ones too. */
function packages(dir, prefix = 'usr/lib/autoharden/node_modules') {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    if (name.startsWith('@')) {
      out.push(...packages(join(dir, name), `${prefix}/${name}`));
      continue;
    }
    const pj = join(dir, name, 'package.json');
    if (!existsSync(pj)) continue;
    const p = JSON.parse(readFileSync(pj, 'utf8'));
    const author = typeof p.author === 'string' ? p.author : p.author?.name;
    const license = typeof p.license === 'string' ? p.license : p.license?.type ?? 'UNKNOWN';
    out.push({ path: `${prefix}/${name}`, name: p.name ?? name, version: p.version, author, license });
    out.push(...packages(join(dir, name, 'node_modules'), `${prefix}/${name}/node_modules`));
  }
  return out;
}

const mods = packages(process.argv[2] ?? 'node_modules');
const paras = [
  [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    'Upstream-Name: autoharden',
    'Comment: The bundled node modules are listed with the license their package.json declares;',
    ' each ships its own license file in its directory.',
  ],
  ['Files: *', `Copyright: ${process.argv[3] ?? new Date().getUTCFullYear()} autoharden maintainers`, 'License: MIT'],
  ...mods.map((m) => [
    `Files: ${m.path}/*`,
    `Copyright: ${(m.author ?? `the authors of ${m.name}`).replace(/\n/g, ' ')}`,
    `License: ${m.license}`,
    `Comment: ${m.name} ${m.version}`,
  ]),
  ['License: MIT', ...MIT.split('\n').map((l) => ` ${l}`)],
];
process.stdout.write(`${paras.map((p) => p.join('\n')).join('\n\n')}\n`);
