// Linux capabilities by bit number (linux/capability.h), and the groups systemd-analyze security
// scores them in (src/analyze/analyze-security.c as of v252). Pure data and bit arithmetic.

/** Index = capability bit number. */
export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

export type CapabilityName = (typeof CAPABILITIES)[number];

/** Every capability this table knows (bits 0..40). */
export const ALL_CAPS_MASK = 2 ** CAPABILITIES.length - 1;

const BIT = new Map<string, number>(CAPABILITIES.map((c, i) => [c, i]));

/** Bit number of a capability; accepts "CAP_CHOWN" or "chown", any case. */
export function capBit(name: string): number {
  const up = name.trim().toUpperCase();
  const bit = BIT.get(up.startsWith('CAP_') ? up : `CAP_${up}`);
  if (bit === undefined) throw new RangeError(`unknown capability: ${name}`);
  return bit;
}

function checkMask(mask: number): bigint {
  // A 64-bit mask turned into a Number above 2^53 has lost its low bits; nothing can be read from it.
  if (!Number.isSafeInteger(mask) || mask < 0) throw new RangeError(`not an exact capability mask: ${mask}`);
  return BigInt(mask);
}

/** Names of the known capabilities set in mask; bits above CAP_LAST are ignored. */
export function capsFromMask(mask: number): CapabilityName[] {
  const m = checkMask(mask);
  return CAPABILITIES.filter((_, i) => (m >> BigInt(i)) & 1n);
}

export function maskFromCaps(names: Iterable<string>): number {
  let m = 0n;
  for (const n of names) m |= 1n << BigInt(capBit(n));
  return Number(m);
}

/** Known-capability bits of mask (drops the high bits systemd keeps set after `~` lines). */
export function knownCaps(mask: number): number {
  return Number(checkMask(mask) & BigInt(ALL_CAPS_MASK));
}

/** a ⊆ b, over the known capabilities. */
export function capsSubset(a: number, b: number): boolean {
  return (BigInt(knownCaps(a)) & ~BigInt(knownCaps(b))) === 0n;
}

/** The CapabilityBoundingSet rows of systemd-analyze security (v252): a row is bad when any of its
 * capabilities is in the set. CAP_PERFMON and CAP_CHECKPOINT_RESTORE are in no row. */
export const CAP_SCORE_GROUPS: ReadonlyArray<{ caps: readonly CapabilityName[]; weight: number }> = [
  { caps: ['CAP_SYS_ADMIN'], weight: 1500 },
  { caps: ['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP'], weight: 1500 },
  { caps: ['CAP_SYS_PTRACE'], weight: 1500 },
  { caps: ['CAP_SYS_TIME'], weight: 1000 },
  { caps: ['CAP_NET_ADMIN'], weight: 1000 },
  { caps: ['CAP_SYS_RAWIO'], weight: 1000 },
  { caps: ['CAP_SYS_MODULE'], weight: 1000 },
  { caps: ['CAP_AUDIT_CONTROL', 'CAP_AUDIT_READ', 'CAP_AUDIT_WRITE'], weight: 500 },
  { caps: ['CAP_SYSLOG'], weight: 500 },
  { caps: ['CAP_SYS_NICE', 'CAP_SYS_RESOURCE'], weight: 500 },
  { caps: ['CAP_MKNOD'], weight: 500 },
  { caps: ['CAP_CHOWN', 'CAP_FSETID', 'CAP_SETFCAP'], weight: 1000 },
  { caps: ['CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_IPC_OWNER'], weight: 1000 },
  { caps: ['CAP_KILL'], weight: 500 },
  { caps: ['CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_RAW'], weight: 500 },
  { caps: ['CAP_SYS_BOOT'], weight: 100 },
  { caps: ['CAP_MAC_ADMIN', 'CAP_MAC_OVERRIDE'], weight: 100 },
  { caps: ['CAP_LINUX_IMMUTABLE'], weight: 75 },
  { caps: ['CAP_IPC_LOCK'], weight: 50 },
  { caps: ['CAP_SYS_CHROOT'], weight: 50 },
  { caps: ['CAP_BLOCK_SUSPEND'], weight: 25 },
  { caps: ['CAP_WAKE_ALARM'], weight: 25 },
  { caps: ['CAP_LEASE'], weight: 25 },
  { caps: ['CAP_SYS_TTY_CONFIG'], weight: 25 },
  { caps: ['CAP_SYS_PACCT'], weight: 25 },
  { caps: ['CAP_BPF'], weight: 25 },
];

/** 14025 on v252 (the reference's "14000" predates the CAP_BPF row). */
export const CAP_SCORE_WEIGHT = CAP_SCORE_GROUPS.reduce((s, g) => s + g.weight, 0);

/** Exposure weight the bounding set `mask` leaves, 0..CAP_SCORE_WEIGHT. */
export function capExposure(mask: number): number {
  const m = BigInt(knownCaps(mask));
  return CAP_SCORE_GROUPS.filter((g) => g.caps.some((c) => (m >> BigInt(capBit(c))) & 1n)).reduce(
    (s, g) => s + g.weight,
    0,
  );
}
