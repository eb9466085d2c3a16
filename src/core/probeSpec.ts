// Probe specs from the command line: http(s)://HOST:PORT/PATH, tcp://HOST:PORT, exec:COMMAND.
import { AutohardenError } from './errors.js';
import { CONTROL, shown } from './text.js';
import type { ProbeSpec } from './types.js';

export function parseProbeSpec(raw: string): ProbeSpec {
  const bad = (why: string) => new AutohardenError('Usage', `bad probe spec ${shown(raw)}: ${why}`);
  // The raw text is journaled and URL parsing would silently drop tabs and newlines: refuse them.
  // `%` stays allowed: percent-encoding, `date +%s`; a probe never reaches a drop-in.
  if (CONTROL.test(raw)) throw bad('it has a control character or line break');
  if (raw.startsWith('exec:')) {
    const command = raw.slice(5).trim();
    if (!command) throw bad('exec: needs a command');
    return { kind: 'exec', command, raw };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad('expected http://HOST[:PORT]/PATH, https://…, tcp://HOST:PORT or exec:COMMAND');
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    if (!url.hostname) throw bad('no host');
    if (url.username || url.password) throw bad('credentials in a probe URL would land in the journal');
    return { kind: 'http', url: url.toString(), raw };
  }
  if (url.protocol === 'tcp:') {
    const port = Number(url.port);
    if (!url.hostname || !Number.isInteger(port) || port < 1 || port > 65535) throw bad('tcp:// needs HOST:PORT');
    if (url.pathname && url.pathname !== '/' && url.pathname !== '') throw bad('tcp:// takes no path');
    return { kind: 'tcp', host: url.hostname.replace(/^\[|\]$/g, ''), port, raw };
  }
  throw bad(`unknown scheme ${url.protocol}`);
}
