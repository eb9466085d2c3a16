// The exports read by the tools people ship them with: Debian's ansible-core and ansible-lint, nix-bin's
// nix-instantiate, and systemd-analyze (the annotated drop-in means what the engine's means). No
// systemd box: the tools only read files. A missing tool skips its part, saying which package.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderDropIn } from '../../src/core/dropin.js';
import { renderExport } from '../../src/core/exportFormats.js';
import { nixString } from '../../src/core/exportNix.js';
import { acceptedSet } from '../../src/core/journal.js';
import { ENV, HOSTILE, UNIT, exportJournal } from '../fixtures/export/journal.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'ah-export-tools-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const records = exportJournal();
// a private HOME and Nix state: the tools write caches there, never in the user's
const env = { ...process.env, HOME: dir, NIX_STATE_DIR: join(dir, 'nix'), NO_COLOR: '1', ANSIBLE_NOCOLOR: '1', ANSIBLE_GATHERING: 'explicit' };
const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });

const ANSIBLE = has('ansible-playbook') && has('ansible-lint');
describe.skipIf(!ANSIBLE)('ansible (skipped unless ansible-core and ansible-lint are installed: scripts/install-deps.sh)', () => {
  it('passes ansible-playbook --syntax-check and ansible-lint with no violation', () => {
    writeFileSync(join(dir, 'nginx-hardening.yml'), renderExport(UNIT, records, 'ansible', ENV));
    writeFileSync(join(dir, 'site.yml'), '---\n- name: Harden the web servers\n  ansible.builtin.import_playbook: nginx-hardening.yml\n');
    const syntax = run('ansible-playbook', ['--syntax-check', 'site.yml']);
    expect(syntax.status, syntax.stderr).toBe(0);
    const lint = run('ansible-lint', ['--offline', '-p', 'nginx-hardening.yml', 'site.yml']);
    expect(`${lint.stdout}${lint.stderr}`).not.toMatch(/^\S+\.yml:\d+/m); // a violation, as -p prints it
    expect(lint.status, `${lint.stdout}\n${lint.stderr}`).toBe(0);
  });

  it('copies the content untemplated and notifies its handler (check mode: nothing is written)', () => {
    // the drop-in's comments never hold a brace (exportWhy.commentSafe); one put there anyway
    // shows that Ansible takes the content as it is (!unsafe), not as a Jinja template
    const text = renderExport(UNIT, records, 'ansible', ENV).replace('\n          [Service]\n', '\n          [Service]\n          # {{ 7 * 6 }}\n');
    expect(text).toContain('# {{ 7 * 6 }}');
    writeFileSync(join(dir, 'check.yml'), text);
    const r = run('ansible-playbook', ['-i', 'localhost,', '-c', 'local', '-e', 'autoharden_hosts=localhost', '-e', 'ansible_become=false', '--check', '--diff', 'check.yml']);
    expect(r.stdout).toContain('+# {{ 7 * 6 }}');
    expect(r.stdout).not.toContain('+# 42');
    expect(r.stdout).toContain(`RUNNING HANDLER [Restart ${UNIT} with its hardening]`); // the copy changed: notified
  });
});

const NIX = has('nix-instantiate');
describe.skipIf(!NIX)('nixos (skipped unless nix-instantiate is installed: nix-bin)', () => {
  const nix = (args: string[]) => {
    const r = run('nix-instantiate', args);
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };

  it('parses, and evaluates to the drop-in\'s values, key by key, in order', () => {
    writeFileSync(join(dir, 'nginx.nix'), renderExport(UNIT, records, 'nixos', ENV));
    nix(['--parse', 'nginx.nix']);
    const got = JSON.parse(nix(['--eval', '--strict', '--json', '-E', '(import ./nginx.nix { lib = { mkAfter = x: x; }; }).systemd.services.nginx.serviceConfig']));
    const want: Record<string, unknown[]> = {};
    for (const l of acceptedSet(records).flatMap((s) => s.lines)) {
      const [k, v] = [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)];
      (want[k] ??= []).push(v === 'yes' ? true : v === 'no' ? false : v);
    }
    expect(got).toEqual(want);
  });

  it('reads back a quoted string as it was, whatever Nix would otherwise interpolate', () => {
    for (const s of ['a"b', 'back\\slash', '${builtins.abort "x"}', '$${x}', "''${x}", HOSTILE]) {
      expect(JSON.parse(nix(['--eval', '--json', '-E', nixString(s)]))).toBe(s);
    }
  });
});

const ANALYZE = has('systemd-analyze') && spawnSync('systemd-analyze', ['security', '--help'], { encoding: 'utf8' }).stdout.includes('--offline');
describe.skipIf(!ANALYZE)('systemd (skipped unless systemd-analyze has security --offline: systemd >= 250)', () => {
  it('scores the annotated drop-in as it scores the engine\'s: comments and continued lines change nothing', () => {
    const score = (name: string, text: string) => {
      const root = join(dir, name);
      const units = join(root, 'etc/systemd/system');
      mkdirSync(join(units, `${UNIT}.d`), { recursive: true });
      writeFileSync(join(units, UNIT), '[Service]\nExecStart=/bin/true\n');
      writeFileSync(join(units, `${UNIT}.d`, 'zz-autoharden-50-accepted.conf'), text);
      return execFileSync('systemd-analyze', ['security', '--offline=true', `--root=${root}`, '--no-pager', UNIT], { encoding: 'utf8', env });
    };
    const exported = score('exported', renderExport(UNIT, records, 'dropin', ENV));
    const engine = score('engine', renderDropIn(UNIT, acceptedSet(records), 'accepted'));
    const none = score('none', '[Service]\n');
    expect(exported).toBe(engine);
    expect(exported).not.toBe(none); // the settings were read at all
    expect(exported).toMatch(/✓ CapabilityBoundingSet=~CAP_SYS_TIME/); // on a continued line
  });
});
