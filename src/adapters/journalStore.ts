// One append-only JSON-lines journal per unit under the state directory; each line is fsynced
// before the action it announces is taken.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutohardenError } from '../core/errors.js';
import { recordSchema, type JournalRecord, type NewRecord } from '../core/journal.js';
import { appendLineDurable } from './fsutil.js';

export class JournalStore {
  readonly path: string;

  constructor(
    readonly stateDir: string,
    readonly unit: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    // unit is validated by parseUnitName before it gets here: no "/" can reach the path.
    this.path = join(stateDir, 'journal', `${unit}.jsonl`);
  }

  exists(): boolean {
    return existsSync(this.path);
  }

  read(): JournalRecord[] {
    if (!this.exists()) return [];
    const lines = readFileSync(this.path, 'utf8').split('\n');
    const out: JournalRecord[] = [];
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        // A crash can cut the last line short; anything earlier is corruption.
        if (i >= lines.length - 2) return;
        throw new AutohardenError('Config', `${this.path}:${i + 1}: not JSON`);
      }
      const r = recordSchema.safeParse(parsed);
      if (!r.success) throw new AutohardenError('Config', `${this.path}:${i + 1}: not a journal record`);
      out.push(r.data);
    });
    return out;
  }

  append(rec: NewRecord): JournalRecord {
    mkdirSync(join(this.stateDir, 'journal'), { recursive: true, mode: 0o700 });
    const full = recordSchema.parse({ ...rec, t: this.now().toISOString(), unit: this.unit });
    appendLineDurable(this.path, JSON.stringify(full));
    return full;
  }
}
