// SystemdError and the mapping of D-Bus error replies onto its codes.
import { DBusError } from 'dbus-next';
import { SYSTEMD } from './names.js';

export type SystemdErrorCode =
  | 'NoSuchUnit' // unit not found (LoadState not-found) or not loaded
  | 'Timeout' // no reply / no JobRemoved within the time allowed
  | 'Bus' // the connection failed or was closed; systemd is not on the bus
  | 'JobFailed' // systemd refused to enqueue a job (masked, bad setting, destructive transaction, …)
  | 'AccessDenied' // not privileged enough (polkit / bus policy)
  | 'InvalidArgs' // e.g. a malformed unit name
  | 'Protocol' // a reply we cannot make sense of
  | 'Failed'; // any other D-Bus error reply

export class SystemdError extends Error {
  readonly code: SystemdErrorCode;
  /** The D-Bus error name, when the error came from a reply. */
  readonly dbusName: string | undefined;
  constructor(code: SystemdErrorCode, message: string, dbusName?: string) {
    super(message);
    this.name = 'SystemdError';
    this.code = code;
    this.dbusName = dbusName;
  }
}

/** Errors that mean systemd left the bus under the call (daemon-reexec): retried once it is back. */
export const PEER_GONE = new Set([
  'org.freedesktop.DBus.Error.NoReply',
  'org.freedesktop.DBus.Error.ServiceUnknown',
  'org.freedesktop.DBus.Error.NameHasNoOwner',
  'org.freedesktop.DBus.Error.Spawn.ChildExited',
  'org.freedesktop.DBus.Error.Spawn.ChildSignaled',
  'org.freedesktop.DBus.Error.Spawn.Failed',
  'org.freedesktop.DBus.Error.Spawn.FailedToSetup',
  'org.freedesktop.DBus.Error.Spawn.ServiceNotFound',
]);

export function mapError(err: unknown, what: string): SystemdError {
  if (err instanceof SystemdError) return err;
  if (err instanceof DBusError || (err instanceof Error && err.name === 'DBusError')) {
    const name = (err as DBusError).type;
    const text = `${what}: ${(err as DBusError).text || err.message} (${name})`;
    switch (name) {
      case `${SYSTEMD}.NoSuchUnit`:
        return new SystemdError('NoSuchUnit', text, name);
      case 'org.freedesktop.DBus.Error.AccessDenied':
      case 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired':
        return new SystemdError('AccessDenied', text, name);
      case 'org.freedesktop.DBus.Error.InvalidArgs':
        return new SystemdError('InvalidArgs', text, name);
      case 'org.freedesktop.DBus.Error.NoReply':
      case 'org.freedesktop.DBus.Error.Timeout':
      case 'org.freedesktop.DBus.Error.TimedOut':
        return new SystemdError('Timeout', text, name);
      case 'org.freedesktop.DBus.Error.ServiceUnknown':
      case 'org.freedesktop.DBus.Error.NameHasNoOwner':
      case 'org.freedesktop.DBus.Error.Disconnected':
        return new SystemdError('Bus', text, name);
      default:
        return new SystemdError('Failed', text, name);
    }
  }
  return new SystemdError('Bus', `${what}: ${errorText(err)}`);
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
