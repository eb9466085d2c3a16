// ProtectSystem=strict kept with learned ReadWritePaths instead of falling back to full: seeds
// from what the running service writes, extended from the read-only-file-system errors a trial
// provokes (pid files, sockets and logs written but not held open are what a snapshot misses).
import { dirname } from 'node:path/posix';
import type { Rung, Setting } from './types.js';

const SEP = '; ReadWritePaths=';
// Never opened for writing by a learned path: that would undo what strict is for.
const FORBIDDEN = [/^\/$/, /^\/(usr|boot|efi|etc)(\/|$)/, /^\/(var|home|root|srv|opt|run)$/, /^\/var\/(lib|cache|log|spool|mail|backups|local)$/];
// Already writable or private under strict/PrivateTmp: no need to list them.
const IGNORED = /^\/(dev|proc|sys|tmp|var\/tmp)(\/|$)/;

export function learnable(dir: string): boolean {
  return !FORBIDDEN.some((re) => re.test(dir)) && !IGNORED.test(dir);
}

/** Directories whose files the lines say are on a read-only file system. A path that is itself
 * an existing directory (mkdir -p of a directory that exists) is kept as it is, not its parent. */
export function erofsDirs(lines: readonly string[], isDir: (path: string) => boolean = () => false): string[] {
  const out = new Set<string>();
  for (const raw of lines) {
    if (!/read-only file system|erofs/i.test(raw)) continue;
    const line = raw.replace(/^\/\S+: /, ''); // "FILE: line" from a log file the unit writes
    for (const m of line.matchAll(/(?:^|[\s'"(=`])(\/[^\s'"():,`]+)/g)) {
      const path = m[1]!.replace(/\/+$/, '') || '/';
      const dir = isDir(path) ? path : dirname(path);
      if (learnable(dir)) out.add(dir);
    }
  }
  return [...out].sort();
}

export function pathsOf(value: string): string[] {
  const i = value.indexOf(SEP);
  return i < 0 ? [] : value.slice(i + SEP.length).split(' ').map((p) => p.replace(/^-/, ''));
}

/** The base rung value of a learned one: "strict; ReadWritePaths=-/a" → "strict". */
export function baseValue(value: string): string {
  const i = value.indexOf(SEP);
  return i < 0 ? value : value.slice(0, i);
}

/** A ProtectSystem=strict rung with these directories writable. `-`: a missing path is no error. */
export function withWritablePaths<R extends Rung>(rung: R, dirs: readonly string[]): R {
  if (dirs.length === 0) return rung;
  const list = [...new Set(dirs)].sort().map((d) => `-${d}`).join(' ');
  return { ...rung, value: `${rung.value}${SEP}${list}`, lines: [...rung.lines, `ReadWritePaths=${list}`] };
}

/** After a failed trial: the settings with ProtectSystem=strict extended by the directories the
 * errors name, or undefined when there is nothing new to learn. */
export function learnFromFailure(settings: readonly Setting[], evidence: readonly string[], isDir?: (path: string) => boolean): Setting[] | undefined {
  const i = settings.findIndex((s) => s.option === 'ProtectSystem' && baseValue(s.value) === 'strict');
  if (i < 0) return undefined;
  const s = settings[i]!;
  const have = pathsOf(s.value);
  const fresh = erofsDirs(evidence, isDir).filter((d) => !have.includes(d));
  if (fresh.length === 0) return undefined;
  const dirs = [...have, ...fresh];
  const base: Rung = { value: 'strict', lines: ['ProtectSystem=strict'], residual: 0, inForce: () => false };
  const r = withWritablePaths(base, dirs);
  const next = [...settings];
  next[i] = { option: s.option, value: r.value, lines: r.lines };
  return next;
}
