// Reads what the running system offers: systemd's version and build features over D-Bus, the
// Service interface's property names, the active LSMs and the kernel release. Parsing is the
// core's (core/platform.ts); a fact that cannot be read is left unknown, never guessed.
import { closeSync } from 'node:fs';
import { release } from 'node:os';
import { platformFrom, type Platform } from '../core/platform.js';
import type { SystemdPort } from '../engine/ports.js';
import { openRegular, readAt } from './safeOpen.js';

export const LSM_PATH = '/sys/kernel/security/lsm';
/** The list is a few dozen bytes; more is not an LSM list. */
const LSM_MAX = 4096;

/** The active LSM list as text, or undefined when securityfs is not mounted (a container) or the
 * file is not a plain small file. */
export function readLsm(path = LSM_PATH): string | undefined {
  const f = openRegular(path);
  if (!f) return undefined;
  try {
    // securityfs reports size 0: read up to the bound, not st_size
    return readAt(f.fd, 0, LSM_MAX + 1).toString('utf8');
  } catch {
    return undefined;
  } finally {
    closeSync(f.fd);
  }
}

async function optional<T>(read: (() => Promise<T>) | undefined): Promise<T | undefined> {
  if (!read) return undefined;
  try {
    return await read();
  } catch {
    return undefined; // unknown: the needs that depend on it say so
  }
}

/** The platform, with `unit` (a service) as the object whose Service interface is read. The
 * version is required: it throws as version() does. */
export async function readPlatform(systemd: SystemdPort, unit: string, lsmPath = LSM_PATH): Promise<Platform> {
  const systemdVersion = await systemd.version();
  const features = await optional(systemd.features?.bind(systemd));
  const names = await optional(systemd.servicePropertyNames ? () => systemd.servicePropertyNames!(unit) : undefined);
  return platformFrom({
    systemdVersion,
    features,
    lsm: readLsm(lsmPath),
    kernelRelease: release(),
    // an empty list is a unit without the Service interface, not a systemd without properties
    ...(names && names.length ? { serviceProperties: names } : {}),
  });
}
