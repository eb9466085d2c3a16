// The application layer's front door for the CLI: pick an App (the daemon when it serves this
// state directory, else this process), validate requests through their use case, run the daemon.
import type { ProgressEvent } from '../engine/ports.js';
import type { App } from './app.js';
import { daemonFor, requireDaemon } from '../compose/client.js';
import { DaemonApp } from './daemonApp.js';
import { USE_CASES, type Loaded, type UseCaseName } from './load.js';
import { LocalApp } from './local.js';
import type { RequestOf } from './useCase.js';

export type { App, Stop } from './app.js';
export { DaemonApp } from './daemonApp.js';
export { LocalApp, requireRoot } from './local.js';

/** The daemon when it runs and serves `stateDir`, else this process. */
export async function appFor(stateDir: string, progress: (e: ProgressEvent) => void): Promise<App> {
  const local = new LocalApp(stateDir, progress);
  const client = await daemonFor(stateDir);
  return client ? new DaemonApp(client, local) : local;
}

/** The running daemon (any state directory), or AutohardenError Failed saying it does not run. */
export async function requireDaemonApp(stateDir: string, progress: (e: ProgressEvent) => void): Promise<DaemonApp> {
  return new DaemonApp(await requireDaemon(), new LocalApp(stateDir, progress));
}

/** This process, whether or not a daemon runs (tune and score never go through it). */
export function localApp(stateDir: string, progress: (e: ProgressEvent) => void): LocalApp {
  return new LocalApp(stateDir, progress);
}

/** Validates a request through its use case's schema (loaded when needed); throws Usage. */
export async function request<K extends UseCaseName>(name: K, input: unknown): Promise<RequestOf<Loaded<K>>> {
  const uc = (await USE_CASES[name]()) as { parse(input: unknown): unknown };
  return uc.parse(input) as RequestOf<Loaded<K>>;
}

/** Runs the daemon in this process until it stops; its exit status. */
export async function runDaemon(o: { stateDir: string; logFormat?: 'text' | 'json' }): Promise<number> {
  const { runDaemon } = await import('../daemon/main.js');
  return runDaemon(o);
}
