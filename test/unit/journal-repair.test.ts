// Torn and corrupt journals: a torn last line is cut off into a side file before the next append
// (never glued to), garbage with records after it is this unit's Config error, a failed append is
// a coded StateWriteError that leaves no partial line behind. Enrollment files are checked alike.
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import * as fsutil from '../../src/adapters/fsutil.js';
import { JournalStore } from '../../src/adapters/journalStore.js';
import { AutohardenError, EXIT_CODES, StateWriteError } from '../../src/core/errors.js';
import { scanJournal, type NewRecord } from '../../src/core/journal.js';
import { parseEnrollSpec } from '../../src/daemon/spec.js';
import { EnrollmentStore, newEnrollment } from '../../src/daemon/store.js';

vi.mock('../../src/adapters/fsutil.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../src/adapters/fsutil.js')>();
  return { ...m, appendLineDurable: vi.fn(m.appendLineDurable) };
});

const s = (option: string, value: string) => ({ option, value, lines: [`${option}=${value}`] });
const begin = (trial: number): NewRecord => ({ kind: 'trial-begin', trial, settings: [s('PrivateTmp', 'yes')] });
const recovered = (trial: number): NewRecord => ({ kind: 'recovered', trial, settings: [s('PrivateTmp', 'yes')], reason: 'crash' });

function store() {
  const dir = mkdtempSync(join(tmpdir(), 'ah-jr-'));
  const warnings: string[] = [];
  const j = new JournalStore(dir, 'x.service', () => new Date('2030-01-02T03:04:05.678Z'), (m) => warnings.push(m));
  return { dir, j, warnings, sides: () => readdirSync(join(dir, 'journal')).filter((f) => f.includes('.torn-')) };
}

const caught = (f: () => unknown): Error => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('did not throw');
};

describe('torn journal lines', () => {
  it('cuts a torn last line off before the next append, keeps its bytes in a side file, and says so', () => {
    const { dir, j, warnings, sides } = store();
    j.append(begin(1));
    const torn = Buffer.concat([Buffer.from('{"kind":"recovered","trial":1,"rea'), Buffer.from('é').subarray(0, 1)]); // cut mid-character
    appendFileSync(j.path, torn);
    const before = readFileSync(j.path);
    // A reader skips the tail and leaves the file alone: it may not hold the lock.
    expect(j.read().map((r) => r.kind)).toEqual(['trial-begin']);
    expect(readFileSync(j.path).equals(before)).toBe(true);

    // The append that used to be glued onto the torn line (and lost) now lands on its own line.
    j.append(recovered(1));
    j.append(begin(2));
    expect(j.read().map((r) => r.kind)).toEqual(['trial-begin', 'recovered', 'trial-begin']);
    expect(readFileSync(j.path, 'utf8').split('\n').filter(Boolean).every((l) => JSON.parse(l).kind)).toBe(true);
    expect(sides()).toEqual(['x.service.jsonl.torn-2030-01-02T03-04-05-678Z']);
    expect(readFileSync(join(dir, 'journal', sides()[0]!)).equals(torn)).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${j.path}: line 2 cut short`);
    expect(warnings[0]).toContain(`${torn.length} bytes`);
    expect(warnings[0]).toContain(sides()[0]);
  });

  it('treats a garbage last line, or a last line that is JSON but no record, as torn', () => {
    for (const tail of ['garbage\n', '{"kind":"persisted"}\n', '\0\0\0\0', '   ']) {
      const { dir, j, sides } = store();
      j.append(begin(1));
      appendFileSync(j.path, tail);
      expect(j.read()).toHaveLength(1);
      j.append(recovered(1));
      expect(j.read().map((r) => r.kind)).toEqual(['trial-begin', 'recovered']);
      expect(readFileSync(join(dir, 'journal', sides()[0]!), 'utf8')).toBe(tail);
    }
  });

  it('repairs a tail torn by another process after this instance last looked (the daemon after a killed tune)', () => {
    const { j, sides } = store();
    j.append(begin(1));
    appendFileSync(j.path, '{"kind":"trial-end","tri');
    j.append(recovered(1));
    expect(j.read().map((r) => r.kind)).toEqual(['trial-begin', 'recovered']);
    expect(sides()).toHaveLength(1);
  });

  it('refuses a journal with garbage in the middle: one Config line naming file and line, file untouched', () => {
    const { j } = store();
    j.append(begin(1));
    appendFileSync(j.path, '{"kind":"trial-begin","trial":2,"settings":[]}{"kind":"recovered"}\n'); // glued by an old writer
    j.append(recovered(1)); // the glued line is last, so torn: repaired away
    appendFileSync(j.path, 'not json at all\n');
    appendFileSync(j.path, `${readFileSync(j.path, 'utf8').split('\n')[0]}\n`);
    const bytes = readFileSync(j.path);
    const e = caught(() => j.read());
    expect(e).toBeInstanceOf(AutohardenError);
    expect((e as AutohardenError).code).toBe('Config');
    expect(EXIT_CODES.Config).toBe(78);
    expect(e.message).toMatch(new RegExp(`^${j.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: not JSON;`));
    expect(e.message).not.toContain('\n');
    // A writer opening it refuses too, and changes nothing: no append onto a corrupt journal.
    const writer = new JournalStore(j.stateDir, j.unit);
    expect(caught(() => writer.append(begin(3)))).toMatchObject({ code: 'Config' });
    expect(readFileSync(j.path).equals(bytes)).toBe(true);
  });

  it('names a line that is JSON but not a record, with the field at fault', () => {
    const { j } = store();
    j.append(begin(1));
    appendFileSync(j.path, '{"kind":"trial-begin","t":"x","unit":"x.service","trial":"two","settings":[]}\n');
    j.append(recovered(1)); // the bad line is last: torn, cut off
    appendFileSync(j.path, '{"kind":"nope"}\n{"kind":"persisted","t":"x","unit":"x.service","path":"/etc/x"}\n');
    expect(caught(() => j.read()).message).toMatch(/x\.service\.jsonl:3: not a journal record \(kind: /);
  });
});

describe('scanJournal', () => {
  const enc = (t: string) => new TextEncoder().encode(t);
  const rec = JSON.stringify({ kind: 'persisted', t: 't', unit: 'u', path: '/p' });

  it('keeps blank lines harmless and a clean file whole', () => {
    const text = `${rec}\n\n${rec}\n\n`;
    const r = scanJournal(enc(text));
    expect(r).toMatchObject({ ok: true, end: enc(text).length });
    expect(r.ok && r.records).toHaveLength(2);
    expect(r.ok && r.torn).toBeUndefined();
  });

  it('reports the first of two bad lines as corruption, not as a torn tail', () => {
    expect(scanJournal(enc(`${rec}\nbad\nworse`))).toEqual({ ok: false, line: 2, why: 'not JSON' });
    expect(scanJournal(enc(`bad\n\n${rec}\n`))).toEqual({ ok: false, line: 1, why: 'not JSON' });
  });

  it('ends the kept part after the last valid record, in bytes', () => {
    const text = `${rec}\n{"é":`;
    const r = scanJournal(enc(text));
    expect(r).toMatchObject({ ok: true, end: rec.length + 1, torn: { line: 2 } });
  });
});

describe('a state directory that refuses writes', () => {
  it('makes append throw a StateWriteError with the errno, and leaves no partial line behind', () => {
    const { j } = store();
    j.append(begin(1));
    const clean = readFileSync(j.path);
    vi.mocked(fsutil.appendLineDurable).mockImplementationOnce((path, line) => {
      appendFileSync(path, line.slice(0, 17)); // a short write, then the disk is full
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    const e = caught(() => j.append(recovered(1)));
    expect(e).toBeInstanceOf(StateWriteError);
    expect(e).toMatchObject({ code: 'Failed', errno: 'ENOSPC', path: j.path });
    expect(readFileSync(j.path).equals(clean)).toBe(true);
    // Space again: the next append works and the journal reads whole.
    j.append(recovered(1));
    expect(j.read().map((r) => r.kind)).toEqual(['trial-begin', 'recovered']);
  });
});

describe('enrollment files', () => {

  it('reports a corrupt file as that unit\'s Config error and lists the others', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-es-'));
    const st = new EnrollmentStore(dir);
    st.write(newEnrollment(parseEnrollSpec({ unit: 'a' })));
    mkdirSync(st.dir, { recursive: true });
    writeFileSync(join(st.dir, 'b.service.json'), '{"spec": {"unit": "b.serv');
    writeFileSync(join(st.dir, 'c.service.json'), readFileSync(join(st.dir, 'a.service.json'))); // names a.service
    const errors: string[] = [];
    expect(st.list((u, e) => errors.push(`${u}: ${e.message}`)).map((e) => e.spec.unit)).toEqual(['a.service']);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^b\.service: .*b\.service\.json: not JSON \(/);
    expect(errors[1]).toMatch(/c\.service\.json: holds the enrollment of "a\.service"/);
    expect(caught(() => st.read('b.service'))).toMatchObject({ code: 'Config' });
  });
});
