// Health probes, run from outside the unit's sandbox, each with a timeout.
import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { ProbeResult, ProbeSpec } from '../core/types.js';

/** Why a probe was cut short: the engine saw the unit fail and asks again at once (engine/settle.ts). */
const ABORTED = 'cut short: the unit showed a failure';

function httpProbe(url: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const lib = url.startsWith('https:') ? https : http;
    // A health probe checks the service answers, not who it is: accept self-signed local certs.
    const req = lib.get(url, { timeout: timeoutMs, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve({ probe: url, ok: code >= 200 && code < 400, detail: `HTTP ${code}` });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ probe: url, ok: false, detail: e.message }));
    onAbort(signal, () => req.destroy(new Error(ABORTED)));
  });
}

function tcpProbe(host: string, port: number, raw: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port, timeout: timeoutMs });
    sock.once('connect', () => {
      sock.destroy();
      resolve({ probe: raw, ok: true, detail: 'connected' });
    });
    sock.once('timeout', () => sock.destroy(new Error(`no connection within ${timeoutMs} ms`)));
    sock.once('error', (e) => resolve({ probe: raw, ok: false, detail: e.message }));
    onAbort(signal, () => sock.destroy(new Error(ABORTED)));
  });
}

function execProbe(command: string, raw: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-300)));
    let cut = false;
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the whole process group: sh and what it started
      } catch {
        /* gone */
      }
    };
    const timer = setTimeout(kill, timeoutMs);
    onAbort(signal, () => {
      cut = true;
      kill();
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ probe: raw, ok: false, detail: e.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = stderr.trim().split('\n').at(-1) ?? '';
      if (cut) resolve({ probe: raw, ok: false, detail: ABORTED });
      else if (signal) resolve({ probe: raw, ok: false, detail: `killed by ${signal} (timeout ${timeoutMs} ms)` });
      else resolve({ probe: raw, ok: code === 0, detail: `exit ${code}${last ? `: ${last}` : ''}` });
    });
  });
}

function onAbort(signal: AbortSignal | undefined, f: () => void): void {
  if (!signal) return;
  if (signal.aborted) f();
  else signal.addEventListener('abort', f, { once: true });
}

export function runProbe(p: ProbeSpec, timeoutMs = 5000, signal?: AbortSignal): Promise<ProbeResult> {
  switch (p.kind) {
    case 'http':
      return httpProbe(p.url, timeoutMs, signal);
    case 'tcp':
      return tcpProbe(p.host, p.port, p.raw, timeoutMs, signal);
    case 'exec':
      return execProbe(p.command, p.raw, timeoutMs, signal);
  }
}

export async function runProbes(ps: readonly ProbeSpec[], timeoutMs?: number, signal?: AbortSignal): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [];
  for (const p of ps) out.push(await runProbe(p, timeoutMs, signal));
  return out;
}
