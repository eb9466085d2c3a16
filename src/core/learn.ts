// An option's learning rung (its entry's `learnsPaths`: ProtectSystem=strict) kept with learned
// ReadWritePaths instead of falling back to a weaker one (full): seeds
// from what the running service writes, extended from the read-only-file-system errors a trial
// provokes (pid files, sockets and logs written but not held open are what a snapshot misses).
// The service and its clients write those errors: a path is learned only inside the unit's own
// scope (core/paths.ts), normalised and judged on its resolved form.
import { dirname } from 'node:path/posix';
import { normalisePath, rootOf, scopeRoots, writableRoot, type WritableScope } from './paths.js';
import { optionByName } from './catalog.js';
import { toSetting } from './plan.js';
import { rungOf } from './setting.js';
import type { Rung, Setting } from './types.js';

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

/** A rung (the learning one) with these directories writable. `-`: a missing path is no error. */
export function withWritablePaths<R extends Rung>(rung: R, dirs: readonly string[]): R {
  if (dirs.length === 0) return rung;
  const paths = [...new Set(dirs)].sort();
  const list = paths.map((d) => `-${d}`).join(' ');
  return { ...rung, value: `${rung.value}; ReadWritePaths=${list}`, lines: [...rung.lines, `ReadWritePaths=${list}`], rung: rung.value, paths };
}

/** The option's entry learns writable paths (whatever rung the setting is at). */
export function learnsPaths(option: string): boolean {
  return optionByName(option)?.learnsPaths !== undefined;
}

/** The index of the setting at its option's learning rung, or -1. */
function learner(settings: readonly Setting[]): number {
  return settings.findIndex((s) => {
    const rung = optionByName(s.option)?.learnsPaths?.rung;
    return rung !== undefined && rungOf(s) === rung;
  });
}

/** After a failed trial: the settings with the learning rung extended by the directories the
 * errors name, or undefined when there is nothing new to learn. */
export function learnFromFailure(settings: readonly Setting[], evidence: readonly string[], ctx: LearnContext): Setting[] | undefined {
  const i = learner(settings);
  if (i < 0) return undefined;
  const s = settings[i]!;
  const have = s.paths ?? [];
  const fresh = erofsDirs(evidence, ctx).filter((d) => !have.includes(d));
  if (fresh.length === 0) return undefined;
  return withLearnedPaths(settings, i, [...have, ...fresh]);
}

/** The learning rung as the catalog writes it, with these directories writable. */
function withLearnedPaths(settings: readonly Setting[], i: number, dirs: readonly string[]): Setting[] {
  const s = settings[i]!;
  const spec = optionByName(s.option)!;
  const rung = spec.ladder.find((r) => r.value === spec.learnsPaths!.rung)!;
  const next = [...settings];
  next[i] = toSetting(spec, withWritablePaths(rung, dirs));
  return next;
}

/** The learned ReadWritePaths directories that `after` has and `before` had not. */
export function addedPaths(before: readonly Setting[], after: readonly Setting[]): string[] {
  const paths = (ss: readonly Setting[]) => ss.filter((s) => learnsPaths(s.option)).flatMap((s) => s.paths ?? []);
  const had = paths(before);
  return paths(after).filter((p) => !had.includes(p));
}

/** The settings with these directories taken out of the learning rung's ReadWritePaths. */
export function withoutPaths(settings: readonly Setting[], drop: readonly string[]): Setting[] {
  const i = learner(settings);
  if (i < 0) return [...settings];
  return withLearnedPaths(settings, i, (settings[i]!.paths ?? []).filter((p) => !drop.includes(p)));
}
