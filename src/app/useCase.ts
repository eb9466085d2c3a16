// What a use case is: a name, the one validation of its request (a zod schema), and — when the
// daemon serves it — its D-Bus method: arguments, result and documentation. The CLI, the daemon's
// D-Bus table and its introspection all read these descriptors. Pure.
import type { z } from 'zod';
import { AutohardenError } from '../core/errors.js';

export interface ArgDoc {
  name: string;
  type: string;
  doc: string;
}

/** How a use case travels over org.autoharden1: one method, string result. */
export interface DBusBinding<Req, Res, Wire extends unknown[]> {
  member: string;
  doc: string;
  in: ArgDoc[];
  out: ArgDoc[];
  /** Runs trials or restarts units: may take as long as a settle period and more. */
  slow?: boolean;
  /** request → the method's arguments (client side) */
  toWire(req: Req): Wire;
  /** the method's arguments → what the request schema validates (server side) */
  fromWire(...wire: Wire): unknown;
  encode(res: Res): string;
  decode(text: string): Res;
}

export interface UseCase<N extends string, Req, Res, Wire extends unknown[] = never> {
  readonly name: N;
  /** Validates once; throws AutohardenError (Usage unless a parser said otherwise). */
  parse(input: unknown): Req;
  readonly dbus?: DBusBinding<Req, Res, Wire>;
  /** Type carrier only. */
  readonly _res?: Res;
}

export type RemoteUseCase<N extends string, Req, Res, Wire extends unknown[]> = UseCase<N, Req, Res, Wire> & { readonly dbus: DBusBinding<Req, Res, Wire> };

export type RequestOf<U> = U extends { parse(input: unknown): infer R } ? R : never;
export type ResponseOf<U> = U extends { readonly _res?: infer R } ? R : never;
export type WireOf<U> = U extends { readonly dbus: DBusBinding<unknown, unknown, infer W> } ? W : never;

/** A request schema's parse: the first problem as a Usage error. Parsers inside the schema throw
 * their own AutohardenError, which passes through unchanged (message and code). */
export function schemaParser<S extends z.ZodType>(schema: S, prefix = ''): (input: unknown) => z.output<S> {
  return (input) => {
    const r = schema.safeParse(input);
    if (r.success) return r.data;
    const i = r.error.issues[0];
    const path = i?.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
    const msg = i ? (path ? `${path}: ${i.message}` : i.message) : 'invalid';
    throw new AutohardenError('Usage', `${prefix}${msg}`.split('\n')[0]!);
  };
}

export const json = {
  encode: (v: unknown): string => JSON.stringify(v),
  decode: <T>(s: string): T => JSON.parse(s) as T,
};

export const UNIT_ARG: ArgDoc = { name: 'unit', type: 's', doc: 'a service unit, e.g. nginx.service' };

/** Server side: the method's arguments, validated by the use case's schema. */
export function parseWire<Req, Wire extends unknown[]>(uc: { parse(i: unknown): Req; dbus: DBusBinding<Req, unknown, Wire> }, wire: Wire): Req {
  return uc.parse(uc.dbus.fromWire(...wire));
}
