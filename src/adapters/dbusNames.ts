// org.autoharden1's names, without its method table: what the client needs, kept light.
export { DBUS_ERROR_PREFIX as ERROR_PREFIX, codeOfDBusErrorName as codeOfErrorName, dbusErrorName as errorName } from '../core/errors.js';

export const BUS_NAME = 'org.autoharden1';
export const OBJECT_PATH = '/org/autoharden1';
export const INTERFACE = 'org.autoharden1.Manager';
