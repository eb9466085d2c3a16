// Bus names, object paths, interfaces and match rules of systemd's manager and of the bus itself.
export const SYSTEMD = 'org.freedesktop.systemd1';
export const MANAGER_PATH = '/org/freedesktop/systemd1';
export const MANAGER_IFACE = 'org.freedesktop.systemd1.Manager';
export const SERVICE_IFACE = 'org.freedesktop.systemd1.Service';
export const PROPS_IFACE = 'org.freedesktop.DBus.Properties';
export const JOB_IFACE = 'org.freedesktop.systemd1.Job';
export const DBUS = 'org.freedesktop.DBus';
export const DBUS_PATH = '/org/freedesktop/DBus';

// Added once per connection. The bus delivers JobRemoved only from the current owner of
// org.freedesktop.systemd1; NameOwnerChanged tells us who that is across a daemon-reexec.
export const JOB_REMOVED_MATCH = `type='signal',sender='${SYSTEMD}',path='${MANAGER_PATH}',interface='${MANAGER_IFACE}',member='JobRemoved'`;
export const OWNER_MATCH = `type='signal',sender='${DBUS}',path='${DBUS_PATH}',interface='${DBUS}',member='NameOwnerChanged',arg0='${SYSTEMD}'`;

export const unitMatches = (unit: string, path: string): string[] => [
  `type='signal',sender='${SYSTEMD}',path='${path}',interface='${PROPS_IFACE}',member='PropertiesChanged'`,
  `type='signal',sender='${SYSTEMD}',path='${MANAGER_PATH}',interface='${MANAGER_IFACE}',member='UnitNew',arg0='${unit}'`,
];
