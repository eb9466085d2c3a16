// What the running system offers, as systemd and the kernel report it (never inferred from a
// distribution's name), and the parsers for their reports. Pure: the adapter reads the texts.
// Every parser takes what it cannot read as "unknown" (undefined), never throws.

export interface Platform {
  /** Major version of the running PID 1 (Manager.Version "257.13-1~deb13u1" → 257). */
  systemdVersion: number;
  /** Build features compiled in (Manager.Features "+PAM … -BPF_FRAMEWORK" → has PAM, not
   * BPF_FRAMEWORK); undefined when unknown. */
  features?: ReadonlySet<string>;
  /** Active LSMs (/sys/kernel/security/lsm); undefined when not visible (no securityfs). */
  lsm?: readonly string[];
  /** Kernel major.minor (uname release "6.1.0-28-amd64" → [6, 1]); undefined when unknown. */
  kernel?: readonly [number, number];
  /** Property names of the Service interface; undefined when not introspected. */
  serviceProperties?: ReadonlySet<string>;
  /** Settings systemd reports whether or not it enforces them, by check key (core/bpfOptions.ts
   * ENFORCEMENT_CHECKS): what a check unit showed; undefined (or a key absent) when not checked. */
  enforcement?: ReadonlyMap<string, { enforced: boolean; checked: string }>;
}

const MAX_TEXT = 64 * 1024;

/** "257.13-1~deb13u1" → 257, "v252" → 252; undefined for anything else. */
export function parseSystemdVersion(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^\s*v?(\d{1,6})(?!\d)/.exec(text.slice(0, 256));
  if (!m) return undefined;
  const n = Number(m[1]);
  return n > 0 ? n : undefined;
}

const FEATURE = /^[+-][A-Z0-9_]{1,64}$/;

/** The enabled names of a features string: `+X` tokens. Tokens in another form
 * (`default-hierarchy=unified`) are ignored; undefined when the text has no `+X`/`-X` token at
 * all (empty, garbled or not a string), so "unknown" is never read as "built without". */
export function parseFeatures(text: unknown): ReadonlySet<string> | undefined {
  if (typeof text !== 'string') return undefined;
  const tokens = text.slice(0, MAX_TEXT).split(/\s+/).filter((t) => FEATURE.test(t));
  if (tokens.length === 0) return undefined;
  return new Set(tokens.filter((t) => t.startsWith('+')).map((t) => t.slice(1)));
}

const LSM_NAME = /^[a-z0-9_]{1,32}$/;

/** "lockdown,capability,landlock,bpf\n" → the names; undefined when the text is not such a list. */
export function parseLsmList(text: unknown): readonly string[] | undefined {
  if (typeof text !== 'string' || text.length > 4096) return undefined;
  const names = text.trim().split(',');
  if (!names.every((n) => LSM_NAME.test(n))) return undefined;
  return names;
}

/** uname release "6.12.48+deb13-amd64" → [6, 12]; undefined when it does not start so. */
export function parseKernelRelease(text: unknown): readonly [number, number] | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^\s*(\d{1,4})\.(\d{1,4})(?!\d)/.exec(text.slice(0, 256));
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** kernel ≥ want (major.minor); undefined when the kernel is unknown. */
export function kernelAtLeast(p: Platform, want: readonly [number, number]): boolean | undefined {
  if (!p.kernel) return undefined;
  const [a, b] = p.kernel;
  return a > want[0] || (a === want[0] && b >= want[1]);
}

/** The platform from the raw reports; only the version is needed (the caller throws on an
 * unreadable one, as PID 1's version is what everything else is judged by). */
export function platformFrom(r: {
  systemdVersion: number;
  features?: unknown;
  lsm?: unknown;
  kernelRelease?: unknown;
  serviceProperties?: readonly string[];
}): Platform {
  const features = parseFeatures(r.features);
  const lsm = parseLsmList(r.lsm);
  const kernel = parseKernelRelease(r.kernelRelease);
  return {
    systemdVersion: r.systemdVersion,
    ...(features ? { features } : {}),
    ...(lsm ? { lsm } : {}),
    ...(kernel ? { kernel } : {}),
    ...(r.serviceProperties ? { serviceProperties: new Set(r.serviceProperties) } : {}),
  };
}

/** What is known without reading anything but the version (stand-ins, old callers). */
export function versionOnly(systemdVersion: number): Platform {
  return { systemdVersion };
}

/** What a journal records of the platform a unit was tuned on (tune-begin's `platform`): enough
 * for a later reader to tell an upgrade (core/upgrade.ts), small and plain. */
export interface PlatformFingerprint {
  systemd: number;
  /** Kernel major.minor: '6.1'. */
  kernel?: string;
  /** The build features that decide what autoharden tries, those present (sorted). */
  features?: string[];
  lsm?: string[];
}

/** Build features that change which options work: BPF options, seccomp ones, and the MAC
 * frameworks a unit's policy may rely on. */
export const FINGERPRINT_FEATURES = ['APPARMOR', 'BPF_FRAMEWORK', 'SECCOMP', 'SELINUX'] as const;

/** The platform as a journal records it; an unknown fact is left out, never written as none. */
export function platformFingerprint(p: Platform): PlatformFingerprint {
  return {
    systemd: p.systemdVersion,
    ...(p.kernel ? { kernel: `${p.kernel[0]}.${p.kernel[1]}` } : {}),
    ...(p.features ? { features: FINGERPRINT_FEATURES.filter((f) => p.features!.has(f)) } : {}),
    ...(p.lsm ? { lsm: [...p.lsm] } : {}),
  };
}
