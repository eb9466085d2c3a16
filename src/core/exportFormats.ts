// The accepted set in the forms people ship with the tools they already use.
import { AutohardenError } from './errors.js';
import { ACCEPTED_FILE, renderDropIn } from './dropin.js';
import type { Setting } from './types.js';

export const EXPORT_FORMATS = ['dropin', 'json', 'ansible'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** An Ansible task list: the drop-in as a file, then a daemon reload and a restart when it changed. */
function ansible(unit: string, accepted: readonly Setting[]): string {
  const dir = `/etc/systemd/system/${unit}.d`;
  const body = renderDropIn(unit, accepted, 'accepted').trimEnd().split('\n').map((l) => `      ${l}`).join('\n');
  return [
    `# Hardening of ${unit} found by autoharden; include it in a play's tasks.`,
    `- name: autoharden drop-in directory for ${unit}`,
    '  ansible.builtin.file:',
    `    path: ${dir}`,
    '    state: directory',
    "    mode: '0755'",
    `- name: autoharden hardening of ${unit}`,
    '  ansible.builtin.copy:',
    `    dest: ${dir}/${ACCEPTED_FILE}`,
    "    mode: '0644'",
    '    content: |',
    body,
    `  register: autoharden_${unit.replace(/[^A-Za-z0-9]/g, '_')}`,
    `- name: restart ${unit} with its hardening`,
    '  ansible.builtin.systemd_service:',
    `    name: ${unit}`,
    '    state: restarted',
    '    daemon_reload: true',
    `  when: autoharden_${unit.replace(/[^A-Za-z0-9]/g, '_')}.changed`,
    '',
  ].join('\n');
}

export function renderExport(unit: string, accepted: readonly Setting[], format: string): string {
  switch (format) {
    case 'dropin':
      return renderDropIn(unit, accepted, 'accepted');
    case 'json':
      return `${JSON.stringify(accepted, null, 2)}\n`;
    case 'ansible':
      return ansible(unit, accepted);
    default:
      throw new AutohardenError('Usage', `unknown format ${JSON.stringify(format)}; expected ${EXPORT_FORMATS.join(', ')}`);
  }
}
