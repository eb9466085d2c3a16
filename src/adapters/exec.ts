// Runs a helper program (systemd-analyze, journalctl) and collects its output.
import { execFile } from 'node:child_process';

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000, maxBytes = 16 << 20): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: maxBytes }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr: stderr || (err && !stdout ? err.message : '') });
    });
  });
}
