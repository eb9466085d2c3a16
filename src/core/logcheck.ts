// New errors in the unit's own logs: a rare code path no probe reaches often still logs the errno
// the sandbox caused. A trial that adds such a line, unseen before tuning, is suspect — but the
// service and its clients write these logs, so a line is evidence only when it is attributable:
// the engine checks a control window without the candidate, and what shows up there too is
// noise (noiseSignatures), ignored from then on.

// errno texts the sandbox causes (reference §4), grouped by the errno they stand for: a line's
// classes say which kind of denial it reports, whatever path or text surrounds it.
const ERRNO_CLASSES: ReadonlyArray<readonly [string, readonly RegExp[]]> = [
  ['erofs', [/read-only file system/i, /\berofs\b/i]],
  ['eacces', [/permission denied/i, /\beacces\b/i]],
  ['eperm', [/operation not permitted/i, /\beperm\b/i]],
  ['eafnosupport', [/address family not supported/i, /\beafnosupport\b/i, /protocol not supported/i]],
  ['enosys', [/bad system call/i, /function not implemented/i, /\benosys\b/i]],
  // PrivateNetwork leaves only loopback: a connection out fails with ENETUNREACH.
  ['enetunreach', [/network is unreachable/i, /\benetunreach\b/i]],
];

/** Lines longer than this are judged on their first part only: bounded work per hostile line. */
const MAX_LINE = 4096;
const clip = (line: string) => (line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line);

/** The errno classes a line reports ('erofs', 'eacces', …); empty for an ordinary line. */
export function errnoClasses(line: string): string[] {
  const l = clip(line);
  return ERRNO_CLASSES.filter(([, res]) => res.some((re) => re.test(l))).map(([c]) => c);
}

export function isErrnoLike(line: string): boolean {
  return errnoClasses(line).length > 0;
}

/** Request and access logs carry text any client chooses (URLs, Referer, User-Agent): never
 * evidence, so never read (trust: a client must not talk the tuner out of a setting). */
export function isRequestLog(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  return /access|request/i.test(name);
}

/** Where a line came from: "FILE: line" (the log-file readers prefix it) or the journal. */
export function sourceOf(line: string): string {
  return /^(\/[^\s:]+): /.exec(line)?.[1] ?? 'journal';
}

const noiseKey = (source: string, cls: string) => `noise ${source} ${cls}`;

/** Signatures that mark a kind of line as noise: every line of these classes from this source.
 * Learned when a line also shows up while the unit runs without the candidate under trial. */
export function noiseSignatures(lines: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const l of lines) for (const c of errnoClasses(l)) out.add(noiseKey(sourceOf(l), c));
  return out;
}

/** Known: the same line (modulo times and numbers) was seen before, or each of its classes is
 * noise from its source. */
export function isKnown(known: ReadonlySet<string>, line: string): boolean {
  if (known.has(normalise(line))) return true;
  const classes = errnoClasses(line);
  const src = sourceOf(line);
  return classes.length > 0 && classes.every((c) => known.has(noiseKey(src, c)));
}

/** Strips what differs between two occurrences of the same error: times, numbers, hex ids. */
export function normalise(line: string): string {
  return clip(line)
    .replace(/\d{4}[-/]\d\d[-/]\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?/g, 'T')
    .replace(/\b[0-9a-f]{8,}\b/gi, 'H')
    .replace(/\d+/g, 'N')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}

export function errorSignatures(lines: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const l of lines) if (isErrnoLike(l)) out.add(normalise(l));
  return out;
}

/** errno-like lines of a trial whose signature the baseline has not seen. */
export function newErrorLines(known: ReadonlySet<string>, lines: readonly string[]): string[] {
  return lines.filter((l) => isErrnoLike(l) && !isKnown(known, l));
}
