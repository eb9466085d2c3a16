// The CLI and the daemon run on Node 20 to 24 (issue 12): nothing they load may be a native addon
// built for one Node ABI. dbus-next's optional `usocket` addon is replaced by a stand-in
// (vendor/usocket-absent), so dbus-next uses Node's own net sockets, the path the tests cover.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

interface LockEntry { dev?: boolean; hasInstallScript?: boolean; resolved?: string; link?: boolean }
const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {
  packages: Record<string, LockEntry>;
};

describe('runtime dependencies', () => {
  it('include no package that builds or fetches code at install time', () => {
    const runtime = Object.entries(lock.packages).filter(([path, e]) => path !== '' && !e.dev);
    expect(runtime.length).toBeGreaterThan(10);
    expect(runtime.filter(([, e]) => e.hasInstallScript).map(([path]) => path)).toEqual([]);
  });

  it('resolve usocket to the stand-in, so dbus-next falls back to net sockets', () => {
    expect(lock.packages['node_modules/usocket']?.resolved).toBe('vendor/usocket-absent');
    const require = createRequire(new URL('../../node_modules/dbus-next/lib/connection.js', import.meta.url));
    expect(() => require('usocket')).toThrow(/net module/);
  });
});
