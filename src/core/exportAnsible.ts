// The accepted set as an Ansible playbook, written with the yaml package: the annotated drop-in
// copied into place, and a handler that reloads systemd and restarts the unit when it changed.
// A playbook, not a task file: a task file cannot carry the handler its `notify:` needs. Run it
// as is, or from a site playbook with `ansible.builtin.import_playbook`; the hosts come from
// `autoharden_hosts`, by default the host the set was verified on (the exporting host's name).
import { Document, Scalar } from 'yaml';
import { ACCEPTED_FILE } from './dropin.js';
import { commentSafe } from './exportWhy.js';

/** A host name as a Jinja string literal may hold it; anything else matches no host. */
const hostPattern = (host: string) => (/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(host) ? host : 'autoharden_hosts_unset');

export function renderAnsible(unit: string, dropin: string, host: string): string {
  const dir = `/etc/systemd/system/${unit}.d`;
  const handler = `Restart ${unit} with its hardening`;
  // !unsafe: Ansible never templates it; the drop-in quotes the service's own text in comments
  const content = new Scalar(dropin);
  content.type = 'BLOCK_LITERAL';
  content.tag = '!unsafe';
  const play = [
    {
      name: `Harden ${unit} as autoharden verified`,
      hosts: `{{ autoharden_hosts | default('${hostPattern(host)}') }}`,
      become: true,
      tasks: [
        {
          name: `Create the drop-in directory of ${unit}`,
          'ansible.builtin.file': { path: dir, state: 'directory', owner: 'root', group: 'root', mode: '0755' },
        },
        {
          name: `Install the hardening drop-in of ${unit}`,
          'ansible.builtin.copy': { dest: `${dir}/${ACCEPTED_FILE}`, content, owner: 'root', group: 'root', mode: '0644' },
          notify: handler,
        },
      ],
      handlers: [
        {
          name: handler,
          'ansible.builtin.systemd_service': { name: unit, state: 'restarted', daemon_reload: true },
        },
      ],
    },
  ];
  const head = [
    '---',
    `# Hardening of ${commentSafe(unit)} found by autoharden (the drop-in below says why each line is there).`,
    '# Run: ansible-playbook -e autoharden_hosts=GROUP THIS.yml, or import it into a site playbook with',
    '# ansible.builtin.import_playbook; without autoharden_hosts it targets the host it was verified on.',
  ];
  return `${head.join('\n')}\n${new Document(play).toString({ lineWidth: 0 })}`;
}
