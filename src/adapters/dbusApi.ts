// autoharden's own D-Bus API, described once: its methods are the remote use cases of
// app/registry.ts (name, arguments and a line of documentation each); the server exports them,
// its introspection data (what `busctl introspect org.autoharden1 /org/autoharden1` shows) is
// generated here, and the client calls them by the same names. Errors are
// org.autoharden1.Error.<Code> with the codes of core/errors.ts.
import { REMOTE } from '../app/registry.js';
import type { ArgDoc } from '../app/useCase.js';
import { ERROR_CODES } from '../core/errors.js';
import { ERROR_PREFIX, OBJECT_PATH, INTERFACE } from './dbusNames.js';

export { BUS_NAME, ERROR_PREFIX, INTERFACE, OBJECT_PATH, codeOfErrorName, errorName } from './dbusNames.js';
export { ERROR_CODES } from '../core/errors.js';
export type { ArgDoc } from '../app/useCase.js';

export interface MemberDoc {
  name: string;
  /** The use case it runs (the server's handler). */
  handler: string;
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

export const METHODS: readonly MemberDoc[] = REMOTE.map(({ name, dbus: m }) => ({
  name: m.member, handler: name, doc: m.doc, in: m.in, out: m.out, ...(m.slow ? { slow: true } : {}),
}));

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
