// Reading units: object paths, properties, and what the engine makes of them.
import type { EffectiveSettings, EffectiveValue, UnitSnapshot } from '../../core/types.js';
import type { UnitInfo } from '../../engine/ports.js';
import type { SystemdBus } from './bus.js';
import { SystemdError } from './errors.js';
import { MANAGER_IFACE, MANAGER_PATH, PROPS_IFACE, SERVICE_IFACE, SYSTEMD } from './names.js';
import { convertValue, hex, num, str, strings, variantValue, variants, type HostFacts, type Props } from './values.js';

export class UnitQueries {
  private readonly unitPaths = new Map<string, string>();

  constructor(
    private readonly bus: SystemdBus,
    private readonly host: HostFacts,
  ) {}

  convert(name: string, signature: string, value: unknown): EffectiveValue {
    return convertValue(name, signature, value, this.host);
  }

  /** Major version: Manager.Version "252.38-1~deb12u1" → 252. */
  async version(): Promise<number> {
    const [v] = await this.bus.call(SYSTEMD, MANAGER_PATH, PROPS_IFACE, 'Get', 'ss', [MANAGER_IFACE, 'Version']);
    const text = String(variantValue(v) ?? '');
    const m = /^\s*v?(\d+)/.exec(text);
    if (!m) throw new SystemdError('Protocol', `cannot parse systemd version "${text}"`);
    return Number(m[1]);
  }

  /** Manager.Features: the build features of the running PID 1 ("+PAM … -BPF_FRAMEWORK …"), or
   * '' when this systemd has no such property. Parsed by core/platform.ts. */
  async features(): Promise<string> {
    try {
      const [v] = await this.bus.call(SYSTEMD, MANAGER_PATH, PROPS_IFACE, 'Get', 'ss', [MANAGER_IFACE, 'Features']);
      const text = variantValue(v);
      return typeof text === 'string' ? text : '';
    } catch (e) {
      if (e instanceof SystemdError && e.dbusName === 'org.freedesktop.DBus.Error.UnknownProperty') return '';
      throw e;
    }
  }

  /** The names of the Service interface's properties, from one GetAll on a service unit: which
   * settings and values this systemd can report back (PrivateUsersEx since 257). */
  async servicePropertyNames(unit: string): Promise<string[]> {
    return Object.keys(await this.allProperties(unit, SERVICE_IFACE));
  }

  /** LoadUnit, then the unit's state and names (an alias resolves to the unit's canonical Id).
   * Throws NoSuchUnit when systemd finds no such unit. */
  async unitInfo(unit: string): Promise<UnitInfo> {
    const props = await this.allProperties(unit, '');
    const loadState = str(props.LoadState);
    if (!loadState) throw new SystemdError('Protocol', `unit ${unit} has no LoadState`);
    if (loadState === 'not-found') throw new SystemdError('NoSuchUnit', `unit ${unit} not found`);
    const id = str(props.Id) || unit;
    return {
      loadState,
      activeState: str(props.ActiveState),
      subState: str(props.SubState),
      fragmentPath: str(props.FragmentPath),
      dropInPaths: strings(props.DropInPaths),
      needDaemonReload: props.NeedDaemonReload?.value === true,
      // All interfaces come back merged; Mount has a "Type" too, so only trust it for services.
      type: id.endsWith('.service') ? str(props.Type) : '',
      id,
      names: strings(props.Names).length ? strings(props.Names) : [id],
    };
  }

  /** One GetAll over every interface of the unit, so the values come from one moment. */
  async snapshot(unit: string): Promise<UnitSnapshot> {
    const p = await this.allProperties(unit, '');
    return {
      activeState: str(p.ActiveState),
      subState: str(p.SubState),
      result: str(p.Result),
      invocationId: p.InvocationID ? hex(p.InvocationID.value) : '',
      nRestarts: num(p.NRestarts),
      mainPid: num(p.MainPID),
      execMainCode: num(p.ExecMainCode),
      execMainStatus: num(p.ExecMainStatus),
      controlPid: num(p.ControlPID),
      execMainStartMono: p.ExecMainStartTimestampMonotonic ? num(p.ExecMainStartTimestampMonotonic) : undefined,
      execMainHandoffMono: p.ExecMainHandoffTimestampMonotonic ? num(p.ExecMainHandoffTimestampMonotonic) : undefined,
      execMainStartRealtime: p.ExecMainStartTimestamp ? num(p.ExecMainStartTimestamp) : undefined,
    };
  }

  /** Effective values of org.freedesktop.systemd1.Service properties; unknown names → null. */
  async serviceProperties(unit: string, names: string[]): Promise<EffectiveSettings> {
    let props: Props;
    try {
      props = await this.allProperties(unit, SERVICE_IFACE);
    } catch (e) {
      // Not a service: the object has no such interface.
      if (e instanceof SystemdError && e.dbusName === 'org.freedesktop.DBus.Error.UnknownInterface') props = {};
      else throw e;
    }
    const out: EffectiveSettings = {};
    for (const name of names) {
      const v = props[name];
      out[name] = v ? this.convert(name, v.signature, v.value) : null;
    }
    return out;
  }

  /** The unit's object path if it was looked up before. */
  cachedPath(unit: string): string | undefined {
    return this.unitPaths.get(unit);
  }

  async unitPath(unit: string): Promise<string> {
    const cached = this.unitPaths.get(unit);
    if (cached) return cached;
    const [path] = await this.bus.call(SYSTEMD, MANAGER_PATH, MANAGER_IFACE, 'LoadUnit', 's', [unit]);
    if (typeof path !== 'string') throw new SystemdError('Protocol', `LoadUnit(${unit}) returned no path`);
    // A unit's object path depends only on its name, and systemd loads a unit on demand when its
    // path is addressed, so the path stays valid across garbage collection and reloads.
    this.unitPaths.set(unit, path);
    return path;
  }

  /** Properties.GetAll; iface '' means every interface of the object (sd-bus merges them). */
  async allProperties(unit: string, iface: string): Promise<Props> {
    const path = await this.unitPath(unit);
    const [dict] = await this.bus.call(SYSTEMD, path, PROPS_IFACE, 'GetAll', 's', [iface]);
    if (!dict || typeof dict !== 'object') throw new SystemdError('Protocol', `GetAll on ${path} returned no dictionary`);
    return variants(dict as Record<string, unknown>);
  }
}
