// The checks of the running `systemd-analyze security`, with their weights: what
// `SYSTEMD_ANALYZE_DEBUG=1 systemd-analyze security --json=short UNIT` prints (every row also
// carries weight, badness and range; analyze-security.c, 250+). A local policy file
// (systemd-analyze-security.policy) changes weights silently; this shows the effective ones.
// Pure; the parser never throws: anything unreadable gives undefined and the caller keeps the
// catalog's v252 weights (the tested fallback).
import type { OptionSpec, Setting } from './types.js';
import { parseJsonText } from './text.js';

export interface AnalyzeRow {
  /** json_field, e.g. "SystemCallFilter_mount" (252 prints one with a stray ")"). */
  field: string;
  weight: number;
  range: number;
  /** 0..range; undefined when the check does not apply (set: null, badness UINT64_MAX). */
  badness?: number;
}
export type AnalyzeRows = readonly AnalyzeRow[];

/** 252–262 print 81 rows, about 16 KiB. */
const MAX_TEXT = 1 << 20;
const MAX_ROWS = 1024;
const MAX_WEIGHT = 10_000_000;
const FIELD = /^[A-Za-z0-9_()]{1,128}$/;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const intIn = (v: unknown, min: number, max: number): v is number => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;

/** One row, or undefined when it is garbled. N/A is told by `set: null` or a badness outside
 * 0..range: UINT64_MAX arrives from JSON.parse as 1.8446744073709552e19, never trusted as a figure. */
function row(r: unknown): AnalyzeRow | undefined {
  if (!isRecord(r)) return undefined;
  const { json_field: field, weight, range, badness, set } = r;
  if (typeof field !== 'string' || !FIELD.test(field)) return undefined;
  if (!intIn(weight, 0, MAX_WEIGHT) || !intIn(range, 1, MAX_WEIGHT)) return undefined;
  if (set !== null && typeof set !== 'boolean') return undefined;
  if (typeof badness !== 'number' || !(badness >= 0)) return undefined;
  if (set === null || badness > range) return { field, weight, range };
  return Number.isInteger(badness) ? { field, weight, range, badness } : undefined;
}

/** The rows of the debug JSON; undefined when the text is too big, not a JSON array of rows
 * that carry weight and range (the output without SYSTEMD_ANALYZE_DEBUG has none), any row is
 * garbled, or a check appears twice. Rows of checks autoharden does not know are kept: the
 * catalog mapping ignores them. */
export function parseAnalyzeRows(text: unknown): AnalyzeRows | undefined {
  const json = parseJsonText(text, MAX_TEXT);
  if (!Array.isArray(json) || json.length === 0 || json.length > MAX_ROWS) return undefined;
  const rows: AnalyzeRow[] = [];
  const seen = new Set<string>();
  for (const r of json) {
    const parsed = row(r);
    if (!parsed || seen.has(parsed.field)) return undefined;
    seen.add(parsed.field);
    rows.push(parsed);
  }
  return rows.some((r) => r.weight > 0) ? rows : undefined;
}

/** The overall exposure (0..10) as analyze-security computes it from its rows
 * (analyze-security.c: ceil(Σ ceil(badness·weight/range) · 100 / Σ weight) / 10 over the rows
 * that apply). A cross-check of the rows; the score autoharden reports is analyze's own line. */
export function exposureFromRows(rows: AnalyzeRows): number | undefined {
  let bad = 0;
  let weights = 0;
  for (const r of rows) {
    if (r.badness === undefined) continue;
    bad += Math.ceil((r.badness * r.weight) / r.range);
    weights += r.weight;
  }
  return weights > 0 ? Math.ceil((bad * 100) / weights) / 10 : undefined;
}

// ---------------------------------------------------------------------------------------------
// Rows → catalog options

/** Checks named otherwise than the catalog option that owns them. */
const FIELD_OPTION: ReadonlyMap<string, string> = new Map([
  ['UserOrDynamicUser', 'User'],
  ['RootDirectoryOrRootImage', 'RootDirectory'],
  ['DeviceAllow', 'DevicePolicy'],
]);

/** The catalog option a check scores: its alias, its own name, or the part before the first "_"
 * ("CapabilityBoundingSet_CAP_SYS_TIME", "SystemCallFilter_cpu_emulation"). */
export function optionOfField(field: string, options: ReadonlySet<string>): string | undefined {
  const alias = FIELD_OPTION.get(field);
  if (alias !== undefined) return options.has(alias) ? alias : undefined;
  if (options.has(field)) return field;
  const head = field.slice(0, Math.max(0, field.indexOf('_')));
  return head && options.has(head) ? head : undefined;
}

/** Option name → the sum of its checks' weights. Options without a check are absent. */
export function rowWeights(rows: AnalyzeRows, options: ReadonlySet<string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) {
    const o = optionOfField(r.field, options);
    if (o !== undefined) out.set(o, (out.get(o) ?? 0) + r.weight);
  }
  return out;
}

/** The catalog weighted by the running analyze: an option weighs the sum of its checks, 0 when
 * it has none. Rung residuals stay the catalog's fractions (their per-check tables are the same
 * in 252, 257 and 262). Unchanged without rows. */
export function withWeights(catalog: readonly OptionSpec[], rows: AnalyzeRows | undefined): readonly OptionSpec[] {
  if (!rows) return catalog;
  const w = rowWeights(rows, new Set(catalog.map((s) => s.name)));
  return catalog.map((spec) => {
    const weight = w.get(spec.name) ?? 0;
    return weight === spec.weight ? spec : { ...spec, weight };
  });
}

// ---------------------------------------------------------------------------------------------
// Settings in force that the score does not count

/** Settings no analyze check scores in 252–262 (I12 facts: no row for these), for when the
 * running analyze's rows are not known and the catalog does not list the option. */
const NO_CHECK = new Set(['RestrictFileSystems', 'SocketBindAllow', 'SocketBindDeny', 'RestrictNetworkInterfaces', 'PrivatePIDs', 'PrivateIPC', 'PrivateBPF', 'MemoryKSM']);

/** Values stronger than another that analyze scores the same (both badness 0, 257 and 262
 * tested): the score does not count the difference. */
const SCORED_AS: ReadonlyMap<string, string> = new Map([
  ['PrivateTmp=disconnected', 'yes'],
  ['ProtectControlGroups=strict', 'yes'],
]);

export interface Unscored {
  option: string;
  value: string;
  /** The weaker value analyze scores it as; absent when no check scores the option at all. */
  scoredAs?: string;
}

/** Whether an option is scored: by the running analyze's checks when known, else by the
 * catalog's weight (0 = not scored) and the options no version scores. */
export function scoredBy(rows: AnalyzeRows | undefined, catalog: readonly OptionSpec[]): (option: string) => boolean {
  const names = new Set(catalog.map((s) => s.name));
  if (rows) {
    // a check a local policy weighs 0 counts for nothing either
    const w = rowWeights(rows, new Set([...names, ...NO_CHECK]));
    return (o) => (w.get(o) ?? 0) > 0;
  }
  const weights = new Map(catalog.map((s) => [s.name, s.weight]));
  return (o) => !NO_CHECK.has(o) && (weights.get(o) ?? 1) > 0;
}

/** The accepted settings the score does not count, in their order: options no check scores,
 * and values scored like a weaker one. */
export function unscoredSettings(accepted: readonly Pick<Setting, 'option' | 'value'>[], scored: (option: string) => boolean): Unscored[] {
  const out: Unscored[] = [];
  for (const s of accepted) {
    if (!scored(s.option)) out.push({ option: s.option, value: s.value });
    else {
      const as = SCORED_AS.get(`${s.option}=${s.value}`);
      if (as !== undefined) out.push({ option: s.option, value: s.value, scoredAs: as });
    }
  }
  return out;
}
