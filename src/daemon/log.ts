// The daemon's log: pino JSON on stdout. Under systemd (stdout connected to journald, as
// JOURNAL_STREAM says) each line starts with its syslog priority, <6> for info, so that journald
// files it at the right level; at a terminal pino-pretty renders it for a person.
import { fstatSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

/** pino level → syslog priority (sd-daemon.h: SD_DEBUG 7 … SD_CRIT 2). */
export function priorityOf(level: number): number {
  if (level >= 60) return 2; // fatal → crit
  if (level >= 50) return 3; // error → err
  if (level >= 40) return 4; // warn → warning
  if (level >= 30) return 6; // info → info
  return 7; // debug, trace
}

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

/** A destination that prefixes each pino line with <priority>. */
export function journalDestination(write: (s: string) => void): { write(line: string): void } {
  return {
    write(line: string) {
      const m = /^\{"level":(\d+)/.exec(line);
      write(`<${priorityOf(m ? Number(m[1]) : 30)}>${line}`);
    },
  };
}

export function daemonLogger(level = process.env.AUTOHARDEN_LOG_LEVEL ?? 'info'): Logger {
  if (stdoutIsJournal()) {
    const out = pino.destination({ fd: 1, sync: true });
    // journald stamps every line itself.
    return pino({ base: undefined, level, timestamp: false }, journalDestination((s) => out.write(s)));
  }
  if (process.stdout.isTTY) return pino({ base: undefined, level }, pretty({ destination: 1, sync: true, ignore: 'pid,hostname' }));
  return pino({ base: undefined, level }, pino.destination({ fd: 1, sync: true }));
}
