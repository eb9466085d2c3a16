// Conversion of D-Bus property values (signature + dbus-next value) to JSON-safe data. Pure: what
// it needs to know about the host (the kernel's last capability) is passed in.
//
//   b → boolean; s/o/g → string; y/n/q/i/u/d → number; t/x → number (see maskUint64 below);
//   as → string[]; (bas) → {allow, items}; a(iayu) → [{family, address, prefix}];
//   a(iiqq) (SocketBindAllow/Deny) → bind-rule texts ["ipv4:tcp:80", "any"];
//   ay → lower-case hex; anything else → best-effort text (string[] for arrays, fields joined by
//   a space, e.g. DeviceAllow a(ss) → ["char-rtc r"]).
import { bindRuleText } from '../../core/bpfOptions.js';
import { v6Text } from '../../core/cidr.js';
import type { EffectiveValue } from '../../core/types.js';

/** What conversion needs to know about the host. */
export interface HostFacts {
  /** /proc/sys/kernel/cap_last_cap; undefined (or out of range) when unknown. */
  capLastCap: number | undefined;
}

/** A property as GetAll returns it. */
export type Props = Record<string, { signature: string; value: unknown }>;

export function variantValue(v: unknown): unknown {
  return v && typeof v === 'object' && 'value' in v ? (v as { value: unknown }).value : v;
}

/** Keep the entries of a{sv} that are variants. */
export function variants(dict: Record<string, unknown>): Props {
  const out: Props = {};
  for (const [k, v] of Object.entries(dict)) {
    if (v && typeof v === 'object' && 'signature' in v && 'value' in v) {
      out[k] = { signature: String((v as { signature: unknown }).signature), value: (v as { value: unknown }).value };
    }
  }
  return out;
}

export function str(p: { value: unknown } | undefined): string {
  return p && typeof p.value === 'string' ? p.value : '';
}

export function num(p: { value: unknown } | undefined): number {
  if (!p) return 0;
  if (typeof p.value === 'number') return p.value;
  if (typeof p.value === 'bigint') return Number(p.value);
  return 0;
}

export function strings(p: { value: unknown } | undefined): string[] {
  return p && Array.isArray(p.value) ? p.value.map(String) : [];
}

export function hex(v: unknown): string {
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return Buffer.from(v.map(Number)).toString('hex');
  return '';
}

// Bit sets systemd stores in a uint64 whose "everything" value is 2^64-1. Number(2n**64n - 2n)
// === Number(2n**64n - 1n): the low bits (CAP_CHOWN … CAP_NET_BROADCAST) would vanish and bitwise
// operators on such a Number see 0. Keep only the bits that mean something, which fit in 53.
function capabilityMask(host: HostFacts): bigint {
  const n = host.capLastCap;
  // Unknown: 52 keeps every real capability, and is still exact as a Number.
  const last = n !== undefined && Number.isInteger(n) && n >= 0 && n <= 52 ? n : 52;
  return (1n << BigInt(last + 1)) - 1n;
}

/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME: RestrictNamespaces holds the
 * allowed set; unrestricted is 2^64-1. */
const NAMESPACE_MASK = 0x00020000n | 0x02000000n | 0x04000000n | 0x08000000n | 0x10000000n | 0x20000000n | 0x40000000n | 0x00000080n;

const UINT64_MASKS: Record<string, (host: HostFacts) => bigint> = {
  CapabilityBoundingSet: capabilityMask,
  AmbientCapabilities: capabilityMask,
  RestrictNamespaces: () => NAMESPACE_MASK,
};

/** uint64/int64 → number. Bit sets are masked (above); other values above 2^53 (UINT64_MAX meaning
 * "infinity" for limits and timeouts) keep their magnitude but lose their low digits. */
function maskUint64(name: string, v: bigint, host: HostFacts): number {
  const mask = UINT64_MASKS[name];
  return Number(mask ? v & mask(host) : v);
}

/** Convert one property (signature + dbus-next value) to JSON-safe data. */
export function convertValue(name: string, signature: string, value: unknown, host: HostFacts): EffectiveValue {
  switch (signature) {
    case 'b':
      return value === true;
    case 's':
    case 'o':
    case 'g':
      return String(value);
    case 'y':
    case 'n':
    case 'q':
    case 'i':
    case 'u':
    case 'd':
    case 'h':
      return Number(value);
    case 't':
    case 'x':
      return typeof value === 'bigint' ? maskUint64(name, value, host) : Number(value);
    case 'as':
    case 'ao':
    case 'ag':
      return Array.isArray(value) ? value.map(String) : [];
    case 'ay':
      return hex(value);
    case '(bas)': {
      const [allow, items] = Array.isArray(value) ? value : [];
      return { allow: allow === true, items: Array.isArray(items) ? items.map(String) : [] };
    }
    case 'a(iayu)':
      return Array.isArray(value)
        ? value.map((e: unknown) => {
            const [family, bytes, prefix] = Array.isArray(e) ? e : [];
            return { family: Number(family), address: formatAddress(Number(family), bytes), prefix: Number(prefix) };
          })
        : [];
    case 'a(iiqq)':
      return Array.isArray(value)
        ? value.map((e: unknown) => {
            const [family, proto, nr, min] = (Array.isArray(e) ? e : []).map(Number);
            return bindRuleText(family ?? NaN, proto ?? NaN, nr ?? NaN, min ?? NaN);
          })
        : [];
    default:
      return fallback(value);
  }
}

function fallback(value: unknown): EffectiveValue {
  if (Array.isArray(value)) return value.map(text);
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.entries(value).map(([k, v]) => `${k}=${text(v)}`);
  }
  return text(value);
}

function text(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.map(text).join(' ');
  if (v !== null && typeof v === 'object') {
    if ('signature' in v && 'value' in v) return text((v as { value: unknown }).value);
    return Object.entries(v).map(([k, x]) => `${k}=${text(x)}`).join(' ');
  }
  return String(v);
}

/** AF_INET (2) → dotted quad; AF_INET6 (10) → RFC 5952 text. */
export function formatAddress(family: number, bytes: unknown): string {
  const b = Buffer.isBuffer(bytes) ? bytes : Array.isArray(bytes) ? Buffer.from(bytes.map(Number)) : Buffer.alloc(0);
  if (family === 2 && b.length === 4) return [...b].join('.');
  if (family === 10 && b.length === 16) return v6Text([...b]);
  return b.toString('hex');
}
