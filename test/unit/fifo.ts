// Test helpers for FIFOs: making one, and a safety net so that code which wrongly blocks opening
// a FIFO with no writer fails its test instead of hanging the whole run.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

export function mkfifo(path: string): void {
  execFileSync('mkfifo', [path]);
}

export interface Unblocker {
  proc: ChildProcess;
  /** Whether it ever found a reader waiting (its non-blocking open for writing succeeded). */
  released(): boolean;
}

/** A separate process that opens the FIFO for writing, non-blocking, every second: a reader
 * blocked in open() is released (and reported) instead of hanging the run. Kill it when done. */
export function unblocker(fifo: string): Unblocker {
  const js = `const fs=require('fs');const c=fs.constants;setInterval(()=>{try{const fd=fs.openSync(process.argv[1],c.O_WRONLY|c.O_NONBLOCK|c.O_NOFOLLOW);const p=fs.fstatSync(fd).isFIFO();fs.closeSync(fd);if(p)process.stdout.write('released\\n')}catch{}},1000)`;
  const proc = spawn(process.execPath, ['-e', js, fifo], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, released: () => out.includes('released') };
}
