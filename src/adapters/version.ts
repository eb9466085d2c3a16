// autoharden's own version, from the package.json shipped beside dist/ (npm and the .deb both
// install it there).
import { createRequire } from 'node:module';

let cached: string | undefined;
export function autohardenVersion(): string {
  if (cached === undefined) {
    const require = createRequire(import.meta.url);
    cached = (require('../../package.json') as { version: string }).version;
  }
  return cached;
}
