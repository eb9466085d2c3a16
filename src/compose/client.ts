// The daemon's client, built in one place: connected only when a daemon is there to answer.
import { ApiClient } from '../adapters/dbusApiClient.js';
import { ERR } from '../core/errors.js';

/** A client of the running daemon when it serves this state directory; undefined when no daemon
 * runs (then the use cases act on the state directory here). A caller the bus refuses gets
 * AccessDenied. */
export async function daemonFor(stateDir: string): Promise<ApiClient | undefined> {
  if (process.env.AUTOHARDEN_NO_DAEMON === '1') return undefined;
  const client = await ApiClient.connect({ timeoutMs: 3000 });
  if (!client) return undefined;
  try {
    if (!(await client.daemonRunning())) {
      client.close();
      return undefined;
    }
    if ((await client.property('StateDirectory')) !== stateDir) {
      client.close();
      return undefined;
    }
    return client;
  } catch (e) {
    client.close();
    throw e;
  }
}

/** The daemon, or an error saying it does not run. */
export async function requireDaemon(): Promise<ApiClient> {
  const client = await ApiClient.connect({ timeoutMs: 3000 });
  if (client && (await client.daemonRunning().catch(() => false))) return client;
  client?.close();
  throw new ERR.DaemonNotRunning();
}
