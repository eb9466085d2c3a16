import { mkdtempSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JournalStore } from '../../src/adapters/journalStore.js';
import { acceptedSet, rolledBackByUser, unfinishedTrial } from '../../src/core/journal.js';

const s = (option: string, value: string) => ({ option, value, lines: [`${option}=${value}`] });

describe('journal store and folds', () => {
  it('appends records, derives the accepted set and the unfinished trial', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-j-'));
    const j = new JournalStore(dir, 'x.service');
    j.append({ kind: 'trial-begin', trial: 1, settings: [s('ProtectSystem', 'strict')] });
    j.append({ kind: 'trial-end', trial: 1, settings: [s('ProtectSystem', 'strict')], outcome: 'rejected', verdict: 'exit-status', reason: 'r', evidence: [] });
    j.append({ kind: 'trial-begin', trial: 2, settings: [s('ProtectSystem', 'full')] });
    j.append({ kind: 'trial-end', trial: 2, settings: [s('ProtectSystem', 'full')], outcome: 'accepted', verdict: 'ok', reason: 'ok', evidence: [] });
    j.append({ kind: 'trial-begin', trial: 3, settings: [s('PrivateTmp', 'yes')] });
    j.append({ kind: 'trial-end', trial: 3, settings: [s('PrivateTmp', 'yes')], outcome: 'accepted', verdict: 'ok', reason: 'ok', evidence: [] });
    j.append({ kind: 'trial-begin', trial: 4, settings: [s('ProtectHome', 'yes')] });
    const recs = j.read();
    expect(recs).toHaveLength(7);
    expect(recs[0]!.unit).toBe('x.service');
    expect(acceptedSet(recs).map((x) => `${x.option}=${x.value}`)).toEqual(['ProtectSystem=full', 'PrivateTmp=yes']);
    expect(unfinishedTrial(recs)?.trial).toBe(4);
    j.append({ kind: 'recovered', trial: 4, settings: [s('ProtectHome', 'yes')], reason: 'crash' });
    j.append({ kind: 'rollback', by: 'user', options: ['ProtectSystem'], reason: 'user' });
    const after = j.read();
    expect(unfinishedTrial(after)).toBeUndefined();
    expect(acceptedSet(after).map((x) => x.option)).toEqual(['PrivateTmp']);
    expect([...rolledBackByUser(after)]).toEqual(['ProtectSystem']);
    // --all is a fresh start: nothing is held back from a later tune
    j.append({ kind: 'rollback', by: 'user', options: ['PrivateTmp'], all: true, reason: 'user' });
    expect([...rolledBackByUser(j.read())]).toEqual([]);
    expect(acceptedSet(j.read())).toEqual([]);
    // one JSON document per line, nothing else
    expect(readFileSync(j.path, 'utf8').trim().split('\n').every((l) => JSON.parse(l).kind)).toBe(true);
  });

  it('tolerates a torn last line from a crash but refuses corruption in the middle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-j-'));
    const j = new JournalStore(dir, 'y.service');
    j.append({ kind: 'persisted', path: '/etc/x' });
    appendFileSync(j.path, '{"kind":"trial-beg');
    expect(j.read()).toHaveLength(1);
    writeFileSync(j.path, 'garbage\n' + readFileSync(j.path, 'utf8').split('\n')[0] + '\n' + '{"kind":"persisted"}\n');
    expect(() => j.read()).toThrow(/not JSON/);
  });
});
