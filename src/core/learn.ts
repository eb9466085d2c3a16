// ProtectSystem=strict kept with learned ReadWritePaths instead of falling back to full: seeds
// from what the running service writes, extended from the read-only-file-system errors a trial
// provokes (pid files, sockets and logs written but not held open are what a snapshot misses).
// The service and its clients write those errors: a path is learned only inside the unit's own
// scope (core/paths.ts), normalised and judged on its resolved form.
import { dirname } from 'node:path/posix';
import { normalisePath, rootOf, scopeRoots, writableRoot, type WritableScope } from './paths.js';
import type { Rung, Setting } from './types.js';

const SEP = '; ReadWritePaths=';

/** What the learner may know besides the lines: the unit's scope, and the file system through
 * the caller's functions (called only for paths inside the scope). */
export interface LearnContext {
  scope: WritableScope;
  isDir?: (path: string) => boolean;
  /** The path with symlinks resolved, undefined when it does not exist. */
  realDir?: (path: string) => string | undefined;
}

/** Scope roots holding the files the lines say are on a read-only file system. A path that is
 * itself an existing directory (mkdir -p of a directory that exists) counts as it is, not its
 * parent. */
export function erofsDirs(lines: readonly string[], ctx: LearnContext): string[] {
  const roots = scopeRoots(ctx.scope);
  const out = new Set<string>();
  for (const raw of lines) {
    if (!/read-only file system|erofs/i.test(raw)) continue;
    const line = raw.replace(/^\/\S+: /, ''); // "FILE: line" from a log file the unit writes
    for (const m of line.matchAll(/(?:^|[\s'"(=`])(\/[^\s'"():,`]+)/g)) {
      const path = normalisePath(m[1]!);
      // judged as written before the file system is asked anything about it
      if (path === undefined || rootOf(path, roots) === undefined) continue;
      const root = writableRoot(ctx.isDir?.(path) ? path : dirname(path), roots, ctx.realDir);
      if (root !== undefined) out.add(root);
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
export function learnFromFailure(settings: readonly Setting[], evidence: readonly string[], ctx: LearnContext): Setting[] | undefined {
  const i = settings.findIndex((s) => s.option === 'ProtectSystem' && baseValue(s.value) === 'strict');
  if (i < 0) return undefined;
  const s = settings[i]!;
  const have = pathsOf(s.value);
  const fresh = erofsDirs(evidence, ctx).filter((d) => !have.includes(d));
  if (fresh.length === 0) return undefined;
  return withStrictPaths(settings, i, [...have, ...fresh]);
}

function withStrictPaths(settings: readonly Setting[], i: number, dirs: readonly string[]): Setting[] {
  const base: Rung = { value: 'strict', lines: ['ProtectSystem=strict'], residual: 0, inForce: () => false };
  const r = withWritablePaths(base, dirs);
  const next = [...settings];
  next[i] = { option: settings[i]!.option, value: r.value, lines: r.lines };
  return next;
}

/** The directories of ProtectSystem=strict's ReadWritePaths that `after` has and `before` had not. */
export function addedPaths(before: readonly Setting[], after: readonly Setting[]): string[] {
  const paths = (ss: readonly Setting[]) => ss.filter((s) => s.option === 'ProtectSystem').flatMap((s) => pathsOf(s.value));
  const had = paths(before);
  return paths(after).filter((p) => !had.includes(p));
}

/** The settings with these directories taken out of ProtectSystem=strict's ReadWritePaths. */
export function withoutPaths(settings: readonly Setting[], drop: readonly string[]): Setting[] {
  const i = settings.findIndex((s) => s.option === 'ProtectSystem' && baseValue(s.value) === 'strict');
  if (i < 0) return [...settings];
  return withStrictPaths(settings, i, pathsOf(settings[i]!.value).filter((p) => !drop.includes(p)));
}
