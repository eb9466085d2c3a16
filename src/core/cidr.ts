// CIDRs as autoharden writes them: parsed strictly, masked to the prefix and re-printed, so a drop-in
// never carries the user's text. The printed form matches how adapters/systemd.ts formats the
// addresses systemd reports back (RFC 5952, ::ffff:a.b.c.d for mapped IPv4). Pure.
import { isIP } from 'node:net';
import { AutohardenError } from './errors.js';
import { shown } from './text.js';

export interface Cidr {
  /** The network address, masked to the prefix, canonical text. */
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
  /** ADDRESS/PREFIX, canonical: what a drop-in gets. */
  cidr: string;
}

// Only address characters, then at most one "/DIGITS": no zone ids (%eth0), signs, spaces or tails.
const SHAPE = /^([0-9A-Fa-f:.]{2,45})(?:\/([0-9]{1,3}))?$/;

/** Parses an --allow-net value: an address or ADDRESS/PREFIX, IPv4 or IPv6; throws Usage. */
export function parseCidr(raw: string): Cidr {
  const m = SHAPE.exec(raw);
  const v = m ? isIP(m[1]!) : 0;
  const max = v === 4 ? 32 : 128;
  const prefix = m?.[2] === undefined ? max : Number(m[2]);
  if (!m || !v || prefix > max) {
    throw new AutohardenError('Usage', `bad --allow-net ${shown(raw)}: expected ADDRESS[/PREFIX], e.g. 10.0.0.0/8 or 2001:db8::/32`);
  }
  const bytes = mask(v === 4 ? v4Bytes(m[1]!) : v6Bytes(m[1]!), prefix);
  const address = v === 4 ? bytes.join('.') : v6Text(bytes);
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6', cidr: `${address}/${prefix}` };
}

/** The canonical texts of a list of CIDRs, duplicates dropped, order kept. */
export function canonicalCidrs(raw: readonly string[]): string[] {
  return [...new Set(raw.map((c) => parseCidr(c).cidr))];
}

function v4Bytes(a: string): number[] {
  return a.split('.').map(Number);
}

/** 16 bytes of an address isIP already accepted as IPv6. */
function v6Bytes(a: string): number[] {
  let text = a;
  if (text.includes('.')) {
    // a trailing dotted quad is two groups: "::ffff:1.2.3.4" → "::ffff:102:304"
    const dot = text.lastIndexOf(':');
    const q = v4Bytes(text.slice(dot + 1));
    text = `${text.slice(0, dot + 1)}${((q[0]! << 8) | q[1]!).toString(16)}:${((q[2]! << 8) | q[3]!).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const groups = (s: string) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const all = [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

function mask(bytes: number[], prefix: number): number[] {
  return bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return b & ((0xff << (8 - bits)) & 0xff);
  });
}

/** An IPv6 address's 16 bytes as systemd and RFC 5952 print it (lower case, longest zero run as ::). */
export function v6Text(b: readonly number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${b.slice(12).join('.')}`;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hexes = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hexes.join(':');
  return `${hexes.slice(0, bestStart).join(':')}::${hexes.slice(bestStart + bestLen).join(':')}`;
}
