// What a drop-in says, without how it says it: `export` annotates every line with its reason and
// wraps long lists, the engine's own file does not; both must set the same directives.

/** The directive lines of a unit file: continuations joined, comments and blank lines left out. */
export function directives(text: string | null): string[] {
  if (text === null) return [];
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.replace(/\s+/g, ' ').trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith(';'));
}
