// New errors in the unit's own logs: a rare code path no probe reaches often still logs the errno
// the sandbox caused. A trial that adds such a line, unseen before tuning, is rejected.

// errno texts the sandbox causes (reference §4): EROFS, EACCES, EPERM, EAFNOSUPPORT, ENOSYS, SIGSYS,
// ENETUNREACH.
const ERRNO_LIKE = [
  /read-only file system/i,
  /\berofs\b/i,
  /permission denied/i,
  /\beacces\b/i,
  /operation not permitted/i,
  /\beperm\b/i,
  /address family not supported/i,
  /\beafnosupport\b/i,
  /bad system call/i,
  /function not implemented/i,
  /\benosys\b/i,
  /protocol not supported/i,
  // PrivateNetwork leaves only loopback: a connection out fails with ENETUNREACH.
  /network is unreachable/i,
  /\benetunreach\b/i,
];

export function isErrnoLike(line: string): boolean {
  return ERRNO_LIKE.some((re) => re.test(line));
}

/** Strips what differs between two occurrences of the same error: times, numbers, hex ids. */
export function normalise(line: string): string {
  return line
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
  return lines.filter((l) => isErrnoLike(l) && !known.has(normalise(l)));
}
