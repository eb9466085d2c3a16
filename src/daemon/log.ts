// The daemon's log, on stdout. Under systemd (stdout is the journal stream JOURNAL_STREAM names)
// each line starts with its sd-daemon(3) priority, <6> info, <4> warning, <3> error, so that
// journald files it at that level (`journalctl -u autoharden -p warning`; systemd strips the prefix,
// SyslogLevelPrefix= is on by default). Text by default, for the person reading the journal;
// `autoharden daemon --log-format json` writes pino's JSON objects instead, prefixed the same way.
//
// Structured journal fields (UNIT=, TRIAL=) would need sd_journal_send's datagram socket
// (/run/systemd/journal/socket, AF_UNIX SOCK_DGRAM), which Node cannot open without a native
// addon, and autoharden takes none (test/unit/no-native-addon.test.ts): the stream with its
// priority prefix is what a pure-JS daemon gets. The unit's name leads every message instead.
import { fstatSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { printable } from '../core/text.js';

export type DaemonLogFormat = 'text' | 'json';

/** pino level → syslog priority (sd-daemon.h: SD_DEBUG 7 … SD_CRIT 2). */
export function priorityOf(level: number): number {
  if (level >= 60) return 2; // fatal → crit
  if (level >= 50) return 3; // error → err
  if (level >= 40) return 4; // warn → warning
  if (level >= 30) return 6; // info → info
  return 7; // debug, trace
}

const WORD: Record<number, string> = { 2: 'critical: ', 3: 'error: ', 4: 'warning: ', 6: '', 7: 'debug: ' };

/** True when stdout is the journal stream systemd set up (JOURNAL_STREAM=DEV:INODE). */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const js = env.JOURNAL_STREAM;
  if (!js) return false;
  const [dev, ino] = js.split(':');
  try {
    const st = fstatSync(1, { bigint: true });
    return String(st.dev) === dev && String(st.ino) === ino;
  } catch {
    return false;
  }
}

const levelOf = (line: string) => Number(/^\{"level":(\d+)/.exec(line)?.[1] ?? 30);

/** A destination that prefixes each pino JSON line with <priority>. */
export function journalDestination(write: (s: string) => void): { write(line: string): void } {
  return { write: (line: string) => write(`<${priorityOf(levelOf(line))}>${line}`) };
}

/** A destination that turns each pino JSON line into one line of text: `<4>nginx.service: …` for
 * the journal (it stamps the time), `2026-12-02T12:00:00.000Z warning: …` elsewhere. A message
 * holds text services wrote (a failure's log line): its control characters and line breaks are
 * escaped, so it cannot start a line of its own with a priority it chose. */
export function textDestination(write: (s: string) => void, journal: boolean): { write(line: string): void } {
  return {
    write(line: string) {
      let rec: { level?: number; time?: number; msg?: string };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        rec = { level: levelOf(line), msg: line.trimEnd() };
      }
      const prio = priorityOf(rec.level ?? 30);
      const msg = printable(rec.msg ?? line.trimEnd());
      write(journal ? `<${prio}>${msg}\n` : `${new Date(rec.time ?? Date.now()).toISOString()} ${WORD[prio] ?? ''}${msg}\n`);
    },
  };
}

export function daemonLogger(format: DaemonLogFormat = 'text', level = process.env.AUTOHARDEN_LOG_LEVEL ?? 'info'): Logger {
  const journal = stdoutIsJournal();
  const out = pino.destination({ fd: 1, sync: true });
  const write = (s: string) => out.write(s);
  // journald stamps every line itself.
  const opts = { base: undefined, level, ...(journal ? { timestamp: false } : {}) };
  if (format === 'json') return pino(opts, journal ? journalDestination(write) : out);
  return pino(opts, textDestination(write, journal));
}
