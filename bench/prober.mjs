// Watches a service from outside autoharden while a tune runs: probes it every INTERVAL ms and
// prints one line per probe ("<ms since start> ok|fail"), until SIGTERM. The downtime benchmark
// (bench/downtime.sh) adds up the failing spans. Usage: node prober.mjs PROBE [INTERVAL]
// PROBE: http://host:port/path, tcp://host:port, or exec:SHELL-COMMAND (exit 0 = up).
import { spawn } from 'node:child_process';
import net from 'node:net';

const [probe, every = '100'] = process.argv.slice(2);
if (!probe) { console.error('usage: node prober.mjs PROBE [INTERVAL-MS]'); process.exit(2); }
const interval = Number(every);
const TIMEOUT = 1000;

function once() {
  if (probe.startsWith('http://')) {
    return fetch(probe, { signal: AbortSignal.timeout(TIMEOUT) }).then((r) => r.ok, () => false);
  }
  if (probe.startsWith('tcp://')) {
    const u = new URL(probe);
    return new Promise((resolve) => {
      const s = net.connect(Number(u.port), u.hostname);
      const done = (ok) => { s.destroy(); resolve(ok); };
      s.setTimeout(TIMEOUT, () => done(false)).on('connect', () => done(true)).on('error', () => done(false));
    });
  }
  if (probe.startsWith('exec:')) {
    return new Promise((resolve) => {
      const p = spawn('sh', ['-c', probe.slice(5)], { stdio: 'ignore', timeout: TIMEOUT });
      p.on('exit', (code) => resolve(code === 0)).on('error', () => resolve(false));
    });
  }
  console.error(`prober.mjs: unknown probe ${probe}`);
  process.exit(2);
}

const t0 = Date.now();
let stop = false;
process.on('SIGTERM', () => { stop = true; });
while (!stop) {
  const start = Date.now();
  const ok = await once();
  if (stop) break; // a probe the stop itself cut short says nothing about the service
  process.stdout.write(`${start - t0} ${ok ? 'ok' : 'fail'}\n`);
  await new Promise((r) => setTimeout(r, Math.max(0, interval - (Date.now() - start))));
}
