// Where a learned ReadWritePaths= may point: paths normalised without touching the file system,
// and an allow-list of the places a unit's own state may live. Pure: symlinks are resolved by a
// realDir function the caller passes in (an adapter), and the resolved form is judged again.
import type { EffectiveSettings } from './types.js';

const MAX_PATH = 4096;
// Taken literally by systemd in ReadWritePaths=: no quotes, escapes, %specifiers or whitespace.
const SEGMENT = /^[A-Za-z0-9._@+~-]+$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@+~-]*$/;

/** Where a service's own state lives; a root must sit strictly below one of these. */
const BASES = ['/var/lib', '/var/log', '/var/cache', '/var/spool', '/run'];
/** DynamicUser= keeps StateDirectory= and friends here, behind a symlink from the usual place. */
const PRIVATE: Record<string, string> = { '/var/lib': '/var/lib/private', '/var/log': '/var/log/private', '/var/cache': '/var/cache/private' };
/** Never writable by a learned path, whatever a name or a *Directory= setting says: system
 * configuration, other users, systemd's and autoharden's own state, job spools run as root. */
const NEVER = [
  '/etc', '/usr', '/boot', '/efi', '/root', '/home',
  '/run/systemd', '/run/user', '/run/dbus', '/run/log', '/run/lock', '/run/credentials', '/run/sudo', '/run/autoharden',
  '/var/spool/cron', '/var/spool/anacron', '/var/spool/at', '/var/lib/systemd', '/var/lib/autoharden',
  '/var/lib/dpkg', '/var/lib/apt', '/var/lib/dbus', '/var/lib/polkit-1', '/var/lib/sudo', '/var/log/journal',
];
/** Names that are no one unit's own (shared users, systemd's and autoharden's prefixes). */
const SHARED_NAMES = new Set(['root', 'nobody', 'nogroup', 'private', 'systemd', 'autoharden']);

/** Service properties the scope is read from (org.freedesktop.systemd1.Service; the *Directory=
 * ones are `as` of paths relative to their base, User is `s`). */
export const SCOPE_PROPERTIES = ['StateDirectory', 'LogsDirectory', 'RuntimeDirectory', 'CacheDirectory', 'User'] as const;
const DIRECTORY_BASE: Record<string, string> = { StateDirectory: '/var/lib', LogsDirectory: '/var/log', RuntimeDirectory: '/run', CacheDirectory: '/var/cache' };

/** What a tune knows about where the unit may keep state: its own names and the absolute
 * directories systemd manages for it. Plain data, computed once per tune. */
export interface WritableScope {
  names: string[];
  directories: string[];
}

/** `//`, `/./` and `..` collapsed lexically; undefined for a relative path or one with characters
 * outside SEGMENT (control characters, NUL, `%`, whitespace, quotes, backslashes). */
export function normalisePath(raw: string): string | undefined {
  if (raw.length === 0 || raw.length > MAX_PATH || !raw.startsWith('/')) return undefined;
  const out: string[] = [];
  for (const seg of raw.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else if (SEGMENT.test(seg)) out.push(seg);
    else return undefined;
  }
  return `/${out.join('/')}`;
}

export function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root === '/' ? '/' : `${root}/`);
}

/** The unit's own names: the unit name without its suffix, a template's prefix, their first
 * dash-separated word when it has ≥ 3 characters, and User= unless it is root or shared. */
export function writableScope(unit: string, props: EffectiveSettings): WritableScope {
  const base = unit.replace(/\.[a-z]+$/, '');
  const stems = [base, base.split('@')[0]!];
  const words = stems.map((s) => s.split('-')[0]!).filter((w) => w.length >= 3);
  const user = typeof props.User === 'string' ? [props.User] : [];
  const names = [...new Set([...stems, ...words, ...user])].filter((n) => NAME.test(n) && !SHARED_NAMES.has(n));
  const directories: string[] = [];
  for (const [prop, dir] of Object.entries(DIRECTORY_BASE)) {
    const v = props[prop];
    for (const rel of Array.isArray(v) ? v : []) {
      const p = typeof rel === 'string' && !rel.startsWith('/') ? normalisePath(`${dir}/${rel}`) : undefined;
      if (p) directories.push(p);
    }
  }
  return { names, directories: [...new Set(directories)] };
}

function allowedRoot(r: string): boolean {
  return BASES.some((b) => isUnder(r, b) && r !== b)
    && !Object.values(PRIVATE).includes(r)
    && !NEVER.some((n) => isUnder(r, n) || isUnder(n, r));
}

/** Every directory the scope allows, with its DynamicUser= twin; anything below one is allowed. */
export function scopeRoots(scope: WritableScope): string[] {
  const fromNames = scope.names.filter((n) => NAME.test(n) && !SHARED_NAMES.has(n)).flatMap((n) => BASES.map((b) => `${b}/${n}`));
  const given = scope.directories.flatMap((d) => normalisePath(d) ?? []);
  const all = [...fromNames, ...given].filter(allowedRoot).flatMap((r) => {
    const b = Object.keys(PRIVATE).find((k) => isUnder(r, k));
    return b ? [r, `${PRIVATE[b]}${r.slice(b.length)}`] : [r];
  });
  return [...new Set(all)].filter(allowedRoot);
}

/** The outermost root that holds the path, or undefined. */
export function rootOf(path: string, roots: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const r of roots) if (isUnder(path, r) && (best === undefined || r.length < best.length)) best = r;
  return best;
}

/** The root that makes a directory writable, judged on resolved forms: the directory must be in
 * scope as written and as resolved, and the root itself must resolve to a root (a symlinked root
 * that leads elsewhere is refused). Only the root is returned: the service could swap a
 * subdirectory of a writable root for a symlink before the next start, never the root itself
 * (its parent stays read-only under strict). Nothing outside the scope reaches realDir. */
export function writableRoot(dir: string, roots: readonly string[], realDir?: (path: string) => string | undefined): string | undefined {
  const resolve = (p: string) => {
    const r = realDir?.(p);
    return r === undefined ? p : normalisePath(r);
  };
  const lexical = normalisePath(dir);
  if (lexical === undefined || rootOf(lexical, roots) === undefined) return undefined;
  const resolved = resolve(lexical);
  const root = resolved === undefined ? undefined : rootOf(resolved, roots);
  if (root === undefined) return undefined;
  const real = resolve(root);
  return real !== undefined && rootOf(real, roots) === real ? real : undefined;
}

/** writableRoot of each, deduplicated and sorted; what fails is dropped. */
export function writableRoots(dirs: readonly string[], scope: WritableScope, realDir?: (path: string) => string | undefined): string[] {
  const roots = scopeRoots(scope);
  return [...new Set(dirs.flatMap((d) => writableRoot(d, roots, realDir) ?? []))].sort();
}
