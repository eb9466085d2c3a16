import { describe, expect, it } from 'vitest';
import { MARKER } from '../../src/core/dropin.js';
import { AutohardenError } from '../../src/core/errors.js';
import { renderExport } from '../../src/core/exportFormats.js';

const accepted = [
  { option: 'ProtectSystem', value: 'strict; ReadWritePaths=-/var/log/nginx', lines: ['ProtectSystem=strict', 'ReadWritePaths=-/var/log/nginx'] },
  { option: 'PrivateTmp', value: 'yes', lines: ['PrivateTmp=yes'] },
];

describe('export formats', () => {
  it('renders the drop-in, JSON, and an Ansible task list carrying the same drop-in', () => {
    const dropin = renderExport('nginx.service', accepted, 'dropin');
    expect(dropin.split('\n')[0]).toBe(MARKER);
    expect(JSON.parse(renderExport('nginx.service', accepted, 'json'))).toEqual(accepted);
    const yml = renderExport('nginx.service', accepted, 'ansible');
    expect(yml).toContain('dest: /etc/systemd/system/nginx.service.d/zz-autoharden-50-accepted.conf');
    expect(yml).toContain('daemon_reload: true');
    // the copied content is exactly the drop-in, indented under `content: |`
    const content = yml.split('    content: |\n')[1]!.split('\n  register:')[0]!.split('\n').map((l) => l.slice(6)).join('\n');
    expect(`${content}\n`).toBe(dropin);
    expect(yml).toContain('when: autoharden_nginx_service.changed');
  });

  it('refuses an unknown format with a usage error', () => {
    expect(() => renderExport('x.service', [], 'yaml')).toThrow(AutohardenError);
  });
});
