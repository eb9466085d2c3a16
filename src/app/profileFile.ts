// Profiles as files: read one whole and bounded (a FIFO or a device never blocks or is read), and
// `merge`, which needs nothing else: no daemon, no systemd, no root.
import { closeSync, constants as C, fstatSync, openSync, readSync } from 'node:fs';
import { AutohardenError } from '../core/errors.js';
import { MAX_PROFILE_BYTES, parseProfile, type Profile } from '../core/profile.js';
import { mergeProfiles, type MergeResult } from '../core/profileMerge.js';
import { shown } from '../core/text.js';

/** The profile in `path`. AutohardenError Usage when the file cannot be read (absent, not a
 * regular file, no permission), Config when it is too large or not a valid profile. */
export function readProfileFile(path: string): Profile {
  return readOwnedProfileFile(path).profile;
}

/** The profile as read once through one descriptor, and whether root alone can have written it
 * (owned by root, not writable by group or others): only then may its exec probes run as root. */
export function readOwnedProfileFile(path: string): { profile: Profile; rootOnly: boolean } {
  const name = shown(path);
  let fd: number;
  try {
    fd = openSync(path, C.O_RDONLY | C.O_NONBLOCK | C.O_NOCTTY);
  } catch (e) {
    throw new AutohardenError('Usage', `cannot read profile ${name} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new AutohardenError('Usage', `cannot read profile ${name} (not a regular file)`);
    if (st.size > MAX_PROFILE_BYTES) throw new AutohardenError('Config', `${name}: larger than ${MAX_PROFILE_BYTES} bytes`);
    // read to the bound, not st_size: a file that grows meanwhile is still refused
    const buf = Buffer.alloc(MAX_PROFILE_BYTES + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    if (n > MAX_PROFILE_BYTES) throw new AutohardenError('Config', `${name}: larger than ${MAX_PROFILE_BYTES} bytes`);
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(buf.subarray(0, n));
    return { profile: parseProfile(text, name), rootOnly: st.uid === 0 && (st.mode & 0o022) === 0 };
  } catch (e) {
    if (e instanceof AutohardenError) throw e;
    if (e instanceof TypeError) throw new AutohardenError('Config', `${name}: not UTF-8 text`);
    throw new AutohardenError('Usage', `cannot read profile ${name} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  } finally {
    closeSync(fd);
  }
}

/** The profiles in `paths` merged (core/profileMerge.ts); `now` stamps the result. */
export function mergeFiles(paths: readonly string[], now = new Date()): MergeResult {
  if (paths.length === 0) throw new AutohardenError('Usage', 'merge needs at least one profile');
  return mergeProfiles(paths.map((p) => ({ profile: readProfileFile(p), origin: shown(p) })), now);
}
