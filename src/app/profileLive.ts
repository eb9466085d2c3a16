// What export --format profile reads of the running system, where the use case runs (the daemon,
// or this process): the platform, ExecStart= over D-Bus, and an observation of the unit as tune
// makes it. Each part that cannot be read is left out (the profile says why), never guessed.
import { observeService } from '../adapters/observeService.js';
import { readPlatform } from '../adapters/platform.js';
import { SERVICE_IFACE } from '../adapters/systemd/names.js';
import type { Props } from '../adapters/systemd/values.js';
import type { ProfileLive } from '../core/exportProfile.js';
import type { SystemdPort } from '../engine/ports.js';

/** systemd as read here: ExecStart= needs the raw property (its argv lists), which the connection
 * gives when it can (adapters/systemd.ts rawProperties). */
export type LiveSystemd = SystemdPort & { rawProperties?(unit: string, iface: string): Promise<Props> };

const oneLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);

/** ExecStart= (signature a(sasbttttuii)): each command's argv, the binary's path first when systemd
 * ran it under another argv[0] (`@`). Undefined when the property cannot be read. */
export function execStartOf(props: Props): string[][] | undefined {
  const v = props.ExecStart;
  if (!v || !Array.isArray(v.value)) return undefined;
  const out: string[][] = [];
  for (const cmd of v.value as unknown[]) {
    if (!Array.isArray(cmd) || typeof cmd[0] !== 'string') continue;
    const argv = Array.isArray(cmd[1]) ? (cmd[1] as unknown[]).map(String) : [];
    out.push(argv.length && argv[0] === cmd[0] ? argv : [cmd[0], ...argv.slice(1)]);
  }
  return out;
}

export async function profileLive(systemd: LiveSystemd, unit: string): Promise<ProfileLive> {
  const out: ProfileLive = {};
  try {
    out.platform = await readPlatform(systemd, unit);
  } catch {
    /* the journal's fingerprint stands in */
  }
  if (systemd.rawProperties) {
    try {
      const exec = execStartOf(await systemd.rawProperties(unit, SERVICE_IFACE));
      if (exec) out.execStart = exec;
    } catch {
      /* unknown: left empty */
    }
  }
  try {
    const info = await systemd.unitInfo(unit);
    if (info.activeState !== 'active') out.unobserved = `${unit} was not running when exported (ActiveState=${info.activeState})`;
    else if (process.getuid?.() !== 0) out.unobserved = `export ran without root: ${unit}'s processes were not observed`;
    else out.facts = (await observeService(systemd, unit)).facts;
  } catch (e) {
    out.unobserved = `${unit} could not be observed: ${oneLine(e)}`;
  }
  return out;
}
