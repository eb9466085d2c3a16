// Health probes, run from outside the unit's sandbox, each with a timeout.
import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { ProbeResult, ProbeSpec } from '../core/types.js';

function httpProbe(url: string, timeoutMs: number): Promise<ProbeResult> {
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
  });
}

function tcpProbe(host: string, port: number, raw: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port, timeout: timeoutMs });
    sock.once('connect', () => {
      sock.destroy();
      resolve({ probe: raw, ok: true, detail: 'connected' });
    });
    sock.once('timeout', () => sock.destroy(new Error(`no connection within ${timeoutMs} ms`)));
    sock.once('error', (e) => resolve({ probe: raw, ok: false, detail: e.message }));
  });
}

function execProbe(command: string, raw: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-300)));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the whole process group: sh and what it started
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ probe: raw, ok: false, detail: e.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = stderr.trim().split('\n').at(-1) ?? '';
      if (signal) resolve({ probe: raw, ok: false, detail: `killed by ${signal} (timeout ${timeoutMs} ms)` });
      else resolve({ probe: raw, ok: code === 0, detail: `exit ${code}${last ? `: ${last}` : ''}` });
    });
  });
}

export function runProbe(p: ProbeSpec, timeoutMs = 5000): Promise<ProbeResult> {
  switch (p.kind) {
    case 'http':
      return httpProbe(p.url, timeoutMs);
    case 'tcp':
      return tcpProbe(p.host, p.port, p.raw, timeoutMs);
    case 'exec':
      return execProbe(p.command, p.raw, timeoutMs);
  }
}

export async function runProbes(ps: readonly ProbeSpec[], timeoutMs?: number): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [];
  for (const p of ps) out.push(await runProbe(p, timeoutMs));
  return out;
}
