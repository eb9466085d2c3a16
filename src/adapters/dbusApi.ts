// autoharden's own D-Bus API, described once: the server exports it from this table, its
// introspection data (what `busctl introspect org.autoharden1 /org/autoharden1` shows) is
// generated from it with argument names and a line of documentation each, and the client calls it
// by the same names. Errors are org.autoharden1.Error.<Code> with the codes of core/errors.ts.
import type { ErrorCode } from '../core/errors.js';

export const BUS_NAME = 'org.autoharden1';
export const OBJECT_PATH = '/org/autoharden1';
export const INTERFACE = 'org.autoharden1.Manager';
export const ERROR_PREFIX = 'org.autoharden1.Error.';

export interface ArgDoc {
  name: string;
  type: string;
  doc: string;
}

export interface MemberDoc {
  name: string;
  doc: string;
  in: ArgDoc[];
  out: ArgDoc[];
  /** Runs trials or restarts units: may take as long as a settle period and more. */
  slow?: boolean;
}

export interface SignalDoc {
  name: string;
  doc: string;
  args: ArgDoc[];
}

const unit: ArgDoc = { name: 'unit', type: 's', doc: 'a service unit, e.g. nginx.service' };

export const METHODS: readonly MemberDoc[] = [
  {
    name: 'Enroll',
    doc: 'Queue a running service for tuning, then guarding. The spec is validated before anything is queued (Error.Usage).',
    in: [{
      name: 'spec', type: 's',
      doc: 'JSON {"unit":"nginx.service","probes":["http://127.0.0.1/"],"settleMs":2000,"strategy":"one-at-a-time|adaptive","persist":true,"allowNet":[],"localOnly":false,"confineSessions":false,"workload":"exec:COMMAND","budget":0.05}; only unit is required',
    }],
    out: [{ name: 'unit', type: 's', doc: 'the unit name as enrolled (nginx → nginx.service)' }],
  },
  {
    name: 'Status',
    doc: 'State of one unit, or of every unit the daemon knows: queued, tuning, guarding or failed (tuned/interrupted for units only `tune` touched).',
    in: [{ name: 'unit', type: 's', doc: 'a unit, or "" for all' }],
    out: [{ name: 'status', type: 's', doc: 'JSON array of {unit, state, enrolled, exposureBefore, exposureAfter, trials, currentTrial, accepted, error?, report?}' }],
  },
  {
    name: 'Journal',
    doc: "The unit's journal: every trial, verdict, skip, rollback and recovery, oldest first.",
    in: [unit],
    out: [{ name: 'records', type: 's', doc: 'JSON array of journal records' }],
  },
  {
    name: 'Rollback',
    doc: 'Remove one accepted option, or all of them; restarts the unit and runs its probes.',
    in: [
      unit,
      { name: 'option', type: 's', doc: 'option name (e.g. ProtectSystem), or "" with all' },
      { name: 'all', type: 'b', doc: 'remove every accepted option' },
      { name: 'settle_ms', type: 'u', doc: 'settle period after the restart; 0: the enrollment\'s, else 2000' },
    ],
    out: [{ name: 'result', type: 's', doc: 'JSON {unit, removed, remaining, verdict}' }],
    slow: true,
  },
  {
    name: 'Unenroll',
    doc: 'Stop tuning and guarding a unit; keep its accepted drop-in (persisted under /etc) or remove it.',
    in: [unit, { name: 'mode', type: 's', doc: '"keep" or "remove"' }],
    out: [{ name: 'result', type: 's', doc: 'JSON {unit, mode, kept?, rollback?}' }],
    slow: true,
  },
  {
    name: 'Export',
    doc: 'The accepted set, to commit and ship.',
    in: [unit, { name: 'format', type: 's', doc: '"dropin", "json" or "ansible"' }],
    out: [{ name: 'text', type: 's', doc: 'a drop-in file, a JSON array of settings, or Ansible tasks' }],
  },
];

export const SIGNALS: readonly SignalDoc[] = [
  {
    name: 'Progress',
    doc: 'Something happened to an enrolled unit: a state change, a trial begun, a warning, a guard action.',
    args: [unit, { name: 'state', type: 's', doc: 'queued, tuning, guarding, failed or unenrolled' }, { name: 'message', type: 's', doc: 'one line for a person' }],
  },
  {
    name: 'TrialFinished',
    doc: 'A trial ended with a verdict.',
    args: [
      unit,
      { name: 'trial', type: 'u', doc: 'trial number in the unit\'s journal' },
      { name: 'outcome', type: 's', doc: 'accepted, rejected or too-costly' },
      { name: 'settings', type: 's', doc: 'Option=value pairs tried, space-separated' },
      { name: 'reason', type: 's', doc: 'one line: why' },
    ],
  },
  {
    name: 'Alert',
    doc: 'The guard saw a failure or log line that no trusted evidence explains: journaled as an alert, nothing relaxed.',
    args: [unit, { name: 'message', type: 's', doc: 'one line for a person' }],
  },
];

export const PROPERTIES: readonly ArgDoc[] = [
  { name: 'Version', type: 's', doc: 'autoharden version' },
  { name: 'StateDirectory', type: 's', doc: 'where enrollments and journals live' },
];

export const ERROR_CODES: readonly ErrorCode[] = ['Usage', 'AccessDenied', 'UnitUnknown', 'Failed', 'Config', 'Locked'];

export const errorName = (code: ErrorCode): string => `${ERROR_PREFIX}${code}`;

export function codeOfErrorName(name: string): ErrorCode | undefined {
  if (!name.startsWith(ERROR_PREFIX)) return undefined;
  const code = name.slice(ERROR_PREFIX.length) as ErrorCode;
  return ERROR_CODES.includes(code) ? code : undefined;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const com = (s: string) => s.replace(/--/g, '- -');

/** Introspection XML of /org/autoharden1, documented. */
export function introspectionXml(values: { Version: string; StateDirectory: string }): string {
  const arg = (a: ArgDoc, dir?: string) =>
    `      <!-- ${com(a.name)}: ${com(a.doc)} -->\n      <arg name="${a.name}" type="${a.type}"${dir ? ` direction="${dir}"` : ''}/>`;
  const methods = METHODS.map((m) => [
    `    <!-- ${com(m.doc)} -->`,
    `    <method name="${m.name}">`,
    ...m.in.map((a) => arg(a, 'in')),
    ...m.out.map((a) => arg(a, 'out')),
    `    </method>`,
  ].join('\n'));
  const signals = SIGNALS.map((s) => [`    <!-- ${com(s.doc)} -->`, `    <signal name="${s.name}">`, ...s.args.map((a) => arg(a)), `    </signal>`].join('\n'));
  const props = PROPERTIES.map((p) => [
    `    <!-- ${com(p.doc)} -->`,
    `    <property name="${p.name}" type="${p.type}" access="read">`,
    `      <annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="const"/>`,
    `    </property>`,
  ].join('\n'));
  const errors = ERROR_CODES.map((c) => `${ERROR_PREFIX}${c}`).join(', ');
  return `<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node name="${OBJECT_PATH}">
  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect"><arg name="xml_data" type="s" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Peer">
    <method name="Ping"/>
    <method name="GetMachineId"><arg name="machine_uuid" type="s" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get"><arg name="interface_name" type="s" direction="in"/><arg name="property_name" type="s" direction="in"/><arg name="value" type="v" direction="out"/></method>
    <method name="GetAll"><arg name="interface_name" type="s" direction="in"/><arg name="props" type="a{sv}" direction="out"/></method>
    <method name="Set"><arg name="interface_name" type="s" direction="in"/><arg name="property_name" type="s" direction="in"/><arg name="value" type="v" direction="in"/></method>
    <signal name="PropertiesChanged"><arg name="interface_name" type="s"/><arg name="changed_properties" type="a{sv}"/><arg name="invalidated_properties" type="as"/></signal>
  </interface>
  <!-- autoharden ${esc(com(values.Version))}: hardens systemd services by experiment. Only root may call it or hear its signals.
       Errors: ${errors}, each with a one-line message. -->
  <interface name="${INTERFACE}">
${[...methods, ...signals, ...props].join('\n')}
  </interface>
</node>
`;
}
