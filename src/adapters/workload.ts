// Runs a cost workload (issue 6) once and returns its reading: the wall time in seconds for
// `exec:` specs, the printed figure for `higher:`/`lower:` specs (src/core/cost.ts).
import { spawn } from 'node:child_process';
import { MAX_FIGURE_INPUT, figureFrom, tailOf, type WorkloadSpec } from '../core/cost.js';
import { AutohardenError } from '../core/errors.js';

/** Output kept of each stream for matching and for error messages: a chatty load tool (or a body
 * the service sent) is cut from the front, at a line start; both together fit what the pattern
 * reads (MAX_FIGURE_INPUT). */
const MAX_OUTPUT = MAX_FIGURE_INPUT / 2;

export interface WorkloadOptions {
  signal?: AbortSignal;
  /** Extra environment for the command. */
  env?: NodeJS.ProcessEnv;
}

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' | ').slice(-300);
}

/**
 * Run the workload under /bin/sh -c in its own process group (a timeout or abort kills the whole
 * group). Throws AutohardenError('Failed', …) when it exits non-zero, is killed, times out, or
 * prints no figure the spec's pattern matches.
 */
export function runWorkload(spec: WorkloadSpec, timeoutMs: number, opts: WorkloadOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new AutohardenError('Failed', 'workload: aborted'));
      return;
    }
    const t0 = process.hrtime.bigint();
    const child = spawn('/bin/sh', ['-c', spec.command], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...(opts.env ?? {}) },
    });
    let out = '';
    let err = '';
    const keep = (acc: string, chunk: string) => tailOf(acc + chunk, MAX_OUTPUT);
    // utf8 decoding across chunks: a character split between two reads stays whole
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (c: string) => { out = keep(out, c); });
    child.stderr.on('data', (c: string) => { err = keep(err, c); });
    let why: string | undefined;
    const killGroup = (reason: string) => {
      why ??= reason;
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    };
    const timer = setTimeout(() => killGroup(`timed out after ${timeoutMs} ms`), timeoutMs);
    const onAbort = () => killGroup('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let elapsed = 0;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      child.stdout.destroy();
      child.stderr.destroy();
      const name = JSON.stringify(spec.command.length > 80 ? `${spec.command.slice(0, 77)}...` : spec.command);
      if (why) return reject(new AutohardenError('Failed', `workload ${name} ${why}`));
      if (!exit || exit.code !== 0) {
        const status = exit?.signal ? `was killed by ${exit.signal}` : `exited with status ${exit?.code}`;
        const tail = lastLines(err) || lastLines(out);
        return reject(new AutohardenError('Failed', `workload ${name} ${status}${tail ? `: ${tail}` : ''}`));
      }
      if (spec.kind === 'time') return resolve(elapsed);
      try {
        resolve(figureFrom(spec, `${out}\n${err}`));
      } catch (e) {
        reject(e);
      }
    };
    child.on('error', (e) => {
      why ??= `could not start: ${e.message}`;
      finish();
    });
    child.on('exit', (code, signal) => {
      // the wall time ends when the command does, not when a process it left behind closes the pipes
      elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
      exit = { code, signal };
      // something it left behind holds the pipes open: end it, don't wait for it
      setTimeout(() => {
        if (settled) return;
        try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
        finish();
      }, 500);
    });
    child.on('close', finish);
  });
}
