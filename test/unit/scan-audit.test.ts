// scan --audit: the battery's count beside each unit's exposure, "-" with a reason where it could
// not run; one unit's failure is that unit's reason, an interruption stops the scan.
import { describe, expect, it } from 'vitest';
import { SCAN, auditOne, type ScanReport } from '../../src/app/scan.js';
import type { AuditReport } from '../../src/app/audit.js';
import { formatScan } from '../../src/cli/planFormat.js';
import { AutohardenError, Interrupted } from '../../src/core/errors.js';
import { AUDIT_NEEDS_CARRIED, auditCell, auditable, type ScanRow } from '../../src/core/scan.js';
import { CONTROL } from '../../src/core/text.js';

const report = (over: Partial<AuditReport>): AuditReport => ({
  unit: 'nginx.service', auditUnit: 'autoharden-audit-nginx-1.service', techniques: [], complete: true, problems: [], skippedProperties: [], disagreements: [],
  results: [{ id: 'write-etc', outcome: 'blocked', detail: 'EROFS' }, { id: 'read-shadow', outcome: 'possible', detail: '' }, { id: 'connect-out', outcome: 'skipped', detail: '' }],
  summary: { blocked: 1, possible: 1, skipped: 1, error: 0, total: 3, applicable: 2 },
  ...over,
});
const row = (unit: string, over: Partial<ScanRow> = {}): ScanRow => ({ unit, exposure: 9.6, predicted: 2.1, best: 1, state: 'never-tuned', active: 'active', ...over });

describe('scan --audit', () => {
  it('is off unless asked for', () => {
    expect(SCAN.parse({}).audit).toBe(false);
    expect(SCAN.parse({ audit: true }).audit).toBe(true);
  });

  it('audits only running units that are no template, and refuses a root it cannot carry', () => {
    expect(auditable('nginx.service', 'active')).toBeUndefined();
    expect(auditable('getty@tty1.service', 'active')).toBeUndefined();
    expect(auditable('getty@.service', 'active')).toMatch(/template/);
    expect(auditable('cups.service', 'inactive')).toBe('not running (inactive): no execution context to carry');
    expect(AUDIT_NEEDS_CARRIED).toEqual(expect.arrayContaining(['RootDirectory', 'RootImage']));
  });

  it("counts a complete run, gives a reason for an incomplete or failed one, and stops on a signal", async () => {
    expect(await auditOne('nginx.service', async () => report({}))).toEqual({ blocked: 1, applicable: 2, possible: ['read-shadow'] });
    expect(await auditOne('nginx.service', async () => report({ complete: false, problems: ['no done line: the battery did not finish'] }))).toEqual({
      reason: 'incomplete: no done line: the battery did not finish',
    });
    expect(await auditOne('x.service', async () => {
      throw new AutohardenError('Failed', 'RootDirectory= is not carried into the audit: the battery runs on the host\nsecond line');
    })).toEqual({ reason: 'RootDirectory= is not carried into the audit: the battery runs on the host' });
    await expect(auditOne('x.service', async () => {
      throw new Interrupted('SIGINT', 'interrupted by SIGINT');
    })).rejects.toBeInstanceOf(Interrupted);
  });

  it('shows blocked N/M beside the exposure, "-" where it did not run, and the reason in --json', () => {
    const r: ScanReport = {
      units: [
        row('nginx.service', { audit: { blocked: 10, applicable: 27, possible: ['read-shadow'] } }),
        row('cups.service', { active: 'inactive', predicted: null, audit: { reason: 'not running (inactive): no execution context to carry' } }),
        row('evil\u001b[2J.service', { audit: { reason: 'x\u001b]0;t\u0007' } }),
      ],
      over: [],
    };
    const text = formatScan(r).split('\n');
    expect(text[0]).toMatch(/^UNIT +EXPOSURE {2}AUDIT {10}PREDICTED {2}STATE/);
    expect(text[1]).toMatch(/^nginx\.service +9\.6 {2}blocked 10\/27 {2} +2\.1 {2}never-tuned/);
    expect(text[2]).toMatch(/^cups\.service +9\.6 {2}- {14} +- {2}never-tuned/);
    for (const l of text) expect(l).not.toMatch(CONTROL);
    expect(auditCell(undefined)).toBe('-');
    const json = JSON.parse(JSON.stringify(r)) as ScanReport;
    expect(json.units[1]!.audit).toEqual({ reason: 'not running (inactive): no execution context to carry' });
    expect(json.units[0]!.audit).toEqual({ blocked: 10, applicable: 27, possible: ['read-shadow'] });
    // without --audit the table is as before: no AUDIT column
    expect(formatScan({ units: [row('nginx.service')], over: [] }).split('\n')[0]).toMatch(/^UNIT +EXPOSURE {2}PREDICTED/);
  });
});
