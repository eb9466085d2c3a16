// Journals written before settings carried their structure packed it into the value. The journal
// reader (core/journal.ts) derives the structure of such a record once, here, as the code of
// today writes it; nothing else reads a value. The formats below are frozen: new records carry
// `rung`, `paths` and `items` themselves and pass through unchanged.
import { capsRungFor } from './boundingSet.js';
import { optionByName } from './catalog.js';
import type { Setting } from './types.js';

const PATHS = '; ReadWritePaths=';

/** A setting as read from a journal line: the structure, if the writer knew it. */
export function structured(s: Setting): Setting {
  if (s.rung !== undefined || s.paths !== undefined || s.items !== undefined) return s;
  const shaped = (rung: string, extra: Pick<Setting, 'paths' | 'items'>): Setting => ({ ...s, ...(rung !== s.value ? { rung } : {}), ...extra });
  const words = (text: string) => text.split(' ').filter(Boolean);
  const ladder = optionByName(s.option)?.ladder.map((r) => r.value) ?? [];
  switch (s.option) {
    case 'ProtectSystem': {
      // "strict; ReadWritePaths=-/a -/b"
      const i = s.value.indexOf(PATHS);
      return i < 0 ? s : shaped(s.value.slice(0, i), { paths: words(s.value.slice(i + PATHS.length)).map((p) => p.replace(/^-/, '')) });
    }
    case 'CapabilityBoundingSet': {
      // a minimisation step: "keep NET_BIND_SERVICE SETUID" ("empty" reads as the ladder's rung)
      if (!s.value.startsWith('keep ')) return s;
      const items = words(s.value.slice(5)).map((c) => `CAP_${c}`);
      return shaped(capsRungFor(items) ?? s.value, { items });
    }
    case 'SystemCallFilter': {
      // a minimisation step: the rung's value, then " ~@resources @privileged" (once per step)
      if (ladder.includes(s.value)) return s;
      const base = ladder.filter((v) => s.value.startsWith(`${v} ~`)).sort((a, b) => b.length - a.length)[0];
      return base === undefined ? s : shaped(base, { items: words(s.value.slice(base.length)).map((g) => g.replace(/^~/, '')) });
    }
    case 'IPAddressDeny': {
      // the rung the policy built: "any, allow localhost 10.0.0.0/8"
      const base = ladder[0];
      if (base === undefined || (s.value !== base && !s.value.startsWith(`${base} `))) return s;
      return shaped(base, { items: words(s.value.slice(base.length)) });
    }
    default:
      return s;
  }
}
