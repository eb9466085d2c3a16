// The man page and the bash completion are generated from buildProgram() (scripts/gen-man.mjs,
// scripts/gen-completion.mjs): they must list every command and option the CLI defines, the
// exit codes of core/errors.ts, and stay valid roff and bash whatever a description holds.
import { spawnSync } from 'node:child_process';
import { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { ERROR_TABLE } from '../../src/core/errors.js';

interface GenMan {
  renderMan(p: Command, meta: { version: string; date: string; exits: [string, string][] }): string;
  exitRows(t: typeof ERROR_TABLE): [string, string][];
  walkCommands(c: Command): Command[];
  commandPath(c: Command): string;
  roff(s: string): string;
}
interface GenCompletion { renderCompletion(p: Command): string }
const manUrl = new URL('../../scripts/gen-man.mjs', import.meta.url).href;
const compUrl = new URL('../../scripts/gen-completion.mjs', import.meta.url).href;
const gen = (await import(manUrl)) as GenMan;
const { renderCompletion } = (await import(compUrl)) as GenCompletion;

const man = (p: Command) => gen.renderMan(p, { version: '9.9.9', date: '2026-12-02', exits: gen.exitRows(ERROR_TABLE) });
const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

/** groff's warnings about a page (-ww: all of them); '' when it formats cleanly. */
function groffWarnings(page: string): string {
  const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: page, encoding: 'utf8' });
  return r.stderr + (r.status === 0 ? '' : `exit ${r.status}`);
}

/** COMPREPLY for the words typed so far (the last one is the word being completed). */
function complete(script: string, words: string[]): string[] {
  const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('/bin/bash', ['--norc', '-c', `${script}\nCOMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _autoharden; printf '%s\\n' "\${COMPREPLY[@]}"`], {
    encoding: 'utf8',
    env: { PATH: '/nonexistent' }, // no systemctl: unit names are not listed
  });
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean);
}

describe('the man page', () => {
  const program = buildProgram();
  const page = man(program);
  const commands = gen.walkCommands(program);

  it('has a section for every command, naming each of its options', () => {
    expect(commands.map((c) => gen.commandPath(c))).toEqual(expect.arrayContaining(['tune', 'enroll', 'status', 'journal', 'daemon']));
    for (const c of commands) {
      const section = page.split('\n.SS ').find((s) => s.startsWith(`"autoharden ${gen.commandPath(c)} `));
      expect(section, gen.commandPath(c)).toBeDefined();
      for (const o of c.options.filter((o) => !o.hidden && o.long !== '--help')) {
        expect(section, `${gen.commandPath(c)} ${o.long}`).toContain(gen.roff(o.long ?? o.flags));
      }
    }
    expect(page).not.toMatch(/^\.SS "autoharden help /m); // commander's implicit help command
  });

  it('lists every exit status of core/errors.ts, and the signals', () => {
    const status = page.slice(page.indexOf('.SH EXIT STATUS'), page.indexOf('.SH FILES'));
    for (const { exit, doc } of Object.values(ERROR_TABLE)) {
      expect(status).toMatch(new RegExp(`^\\.B ${exit}\\n.*${gen.roff(doc).replace(/[\\.()]/g, '\\$&')}`, 'm'));
    }
    expect(status).toContain('.B 0\n');
    expect(status).toContain('129, 130, 143');
  });

  it('keeps a description from becoming a request, a font change or an escape', () => {
    const evil = new Command('autoharden').description('x');
    evil.command('tune').description('.so /etc/shadow\n\'br\nback\\fBslash').option('--x <v>', '.TH EVIL 1');
    const text = man(evil);
    expect(text).not.toMatch(/^\.so /m);
    expect(text).not.toMatch(/^'br/m);
    expect(text).not.toMatch(/^\.TH EVIL/m);
    expect(text).toContain('\\&.so /etc/shadow');
    expect(text).toContain('back\\efBslash');
    if (has('groff')) expect(groffWarnings(text)).toBe('');
  });

  it.skipIf(!has('groff'))('formats without a groff warning', () => {
    expect(groffWarnings(page)).toBe('');
    const r = spawnSync('groff', ['-man', '-Tutf8'], { input: page, encoding: 'utf8' });
    const text = r.stdout.replace(/.\x08/g, ''); // overstrike (bold, underline)
    expect(text).toContain('--probe <spec>');
    expect(text).toMatch(/EXIT STATUS[\s\S]*75\s+the unit is locked/);
  });
});

describe('the bash completion', () => {
  const program = buildProgram();
  const script = renderCompletion(program);
  const top = gen.walkCommands(program).filter((c) => c.parent === program).map((c) => c.name());

  it('is valid bash', () => {
    expect(spawnSync('bash', ['-n'], { input: script }).status).toBe(0);
  });

  it('completes commands, options, option choices and --state-dir', () => {
    expect(complete(script, ['autoharden', '']).sort()).toEqual([...top].sort());
    expect(complete(script, ['autoharden', 'jo'])).toEqual(['journal']);
    expect(complete(script, ['autoharden', 'tune', '--st'])).toEqual(['--strategy', '--state-dir']);
    const formats = program.commands.find((c) => c.name() === 'export')?.options.find((o) => o.long === '--format')?.argChoices ?? [];
    expect(formats).toContain('dropin');
    expect(complete(script, ['autoharden', 'export', 'x.service', '--format', '']).sort()).toEqual([...formats].sort());
    expect(complete(script, ['autoharden', 'tune', '--probe', 'http://127.0.0.1/', '--strategy', 'a'])).toEqual(['adaptive']);
    expect(complete(script, ['autoharden', '--v'])).toEqual(['--version']);
  });

  it('offers every option of every command', () => {
    for (const c of gen.walkCommands(program)) {
      const words = [...gen.commandPath(c).split(' '), '--'];
      const offered = complete(script, ['autoharden', ...words]);
      for (const o of c.options.filter((o) => !o.hidden && o.long)) expect(offered, gen.commandPath(c)).toContain(o.long);
    }
  });

  it('keeps a quote in a choice from ending the word list', () => {
    const evil = new Command('autoharden');
    evil.command('tune').addOption(new Option('--mode <m>').choices(["a'b", 'c;reboot']));
    const s = renderCompletion(evil);
    expect(spawnSync('bash', ['-n'], { input: s }).status).toBe(0);
    expect(complete(s, ['autoharden', 'tune', '--mode', '']).sort()).toEqual(["a'b", 'c;reboot']);
  });
});
