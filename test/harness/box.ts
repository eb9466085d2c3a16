// A vitest-friendly handle on scripts/box.sh: a real systemd 252 booted as PID 1 of private
// namespaces (docs/testing.md). Needs root.
//
//   const box = await startBox('it-box');       // one name per test file
//   await box.installSample();                  // sample/autoharden-sample.service, answering on :81
//   await box.installBurner();                  // the cost sample, answering on 127.0.0.1:82
//   const r = await box.exec(['systemctl', 'is-active', 'autoharden-sample']);  // never throws on exit != 0
//   await box.cli(['tune', 'autoharden-sample.service', '--probe', 'http://127.0.0.1:81/']);
//   await box.stop();
//
//   const other = await startBox('it-trixie', { root: '/var/cache/autoharden/roots/trixie' });  // scripts/make-root.sh
//
//   const remote = await box.remote();          // a remote test host: 10.251.0.2, the box is 10.251.0.1
//   await remote.addAddress('10.251.0.3');      // a second source address on it
//   const backend = remote.background(['node', '-e', '…listen(8080, "10.251.0.2")']);  // killed by backend.kill() or box.stop()
//   await remote.http('http://10.251.0.1/', { from: '10.251.0.3' });
//   const n = remote.noise('http://10.251.0.1:81/d/', { referer: 'x EPERM', perSecond: 2, seconds: 60 });  // bounded; await n.done or n.stop()
//
//   await box.hostileSample();                  // the sample with SAMPLE_HOSTILE=1 (sample/README.md "hostile mode")
//   await box.hostile('log');                   // GET /hostile/log on it
//   const reads = await box.watchReads('/var/log/nginx/access.log');  // await reads.count(): reads since
//
// Commands run inside the box with a clean environment (PATH, HOME=/root, LANG=C.UTF-8); the
// checkout is at /run/autoharden-src there, and /etc and /var are overlays private to the box.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BOX_SH = join(REPO, 'scripts/box.sh');
export const BOXES_DIR = process.env.AUTOHARDEN_BOX_DIR ?? '/var/tmp/autoharden-boxes';
/** Where the checkout is mounted inside a box. */
export const SRC_IN_BOX = '/run/autoharden-src';
export const SAMPLE_UNIT = 'autoharden-sample.service';
export const SAMPLE_URL = 'http://127.0.0.1:81/';
/** The cost sample (sample/autoharden-burner.c), compiled into the checkout's dist/ by installBurner(). */
export const BURNER_UNIT = 'autoharden-burner.service';
export const BURNER_BIN = join(REPO, 'dist/sample/autoharden-burner');
export const BURNER_BIN_IN_BOX = `${SRC_IN_BOX}/dist/sample/autoharden-burner`;
/** Addresses of the veth pair `remote()` sets up. */
export const BOX_ADDRESS = '10.251.0.1';
export const REMOTE_ADDRESS = '10.251.0.2';

export interface ExecResult {
  /** Exit status; 128+N when killed by signal N; 124 when the timeout struck. */
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface ExecOptions {
  /** Written to the command's stdin (default: nothing, stdin closed). */
  input?: string;
  /** Extra environment inside the box (the base environment is clean). */
  env?: Record<string, string>;
  /** Kill the command after this long (default 60 s). The result then has code 124. */
  timeoutMs?: number;
}

export interface HttpResult {
  /** HTTP status, or null when no answer came. */
  status: number | null;
  body: string;
  /** Why no answer came: ECONNREFUSED, TimeoutError, EHOSTUNREACH, … */
  error?: string;
}

export interface Remote {
  /** The network namespace of the remote test host (`ip netns exec NETNS …`). */
  netns: string;
  /** Its address, and the box's address on the shared link. */
  address: string;
  boxAddress: string;
  /** Run a command on the remote host (the machine's file system, the remote network namespace). */
  exec(cmd: string[] | string, opts?: ExecOptions): Promise<ExecResult>;
  sh(script: string, opts?: ExecOptions): Promise<ExecResult>;
  /** GET a URL from the remote host (Node's fetch); with `from`, from that source address (Node's http). */
  http(url: string, opts?: { timeoutMs?: number; from?: string }): Promise<HttpResult>;
  /** Add another address (ADDRESS/24) to the remote host's end of the link, e.g. 10.251.0.3. */
  addAddress(address: string): Promise<void>;
  /** Start a long-running command on the remote host; killed by its kill(), by box.stop(), or at exit. */
  background(cmd: string[] | string): Background;
  /** A client sending GET url (a 10.251.0.x address only) with these headers, `perSecond` a second
   * for at most `seconds` (and at most perSecond × seconds requests); it stops by itself. */
  noise(url: string, opts: NoiseOptions): Noise;
}

export interface ReadWatch {
  /** Reads of the file since the watch began (its own proving read not counted). */
  count(): Promise<number>;
  stop(): Promise<void>;
}

export interface NoiseOptions {
  /** Referer header of every request. */
  referer?: string;
  perSecond: number;
  seconds: number;
}

export interface Noise {
  /** Resolves when the client is done (by itself or stop()): requests sent and answered. */
  done: Promise<{ sent: number; answered: number }>;
  /** End it now; resolves as `done`. */
  stop(): Promise<{ sent: number; answered: number }>;
}

export interface Background {
  pid: number;
  /** SIGKILL its process group; resolves once it is gone. Idempotent. */
  kill(): Promise<void>;
}

export interface InstallSampleOptions {
  /** Environment= lines for the unit, e.g. { SAMPLE_SOMETIMES_WRITE: '/etc/autoharden-sample.state' }. */
  env?: Record<string, string>;
  /** How long to wait for GET / to answer 200 (default 20 s). */
  timeoutMs?: number;
}

export interface StartBoxOptions {
  /** Boot this Debian root (built by scripts/make-root.sh) instead of the machine's /; passed to
   * box.sh as AUTOHARDEN_BOX_ROOT. Unset: the AUTOHARDEN_BOX_ROOT of this process, if any, holds. */
  root?: string;
}

export interface Box {
  name: string;
  /** The root it booted (StartBoxOptions.root), or null for the machine's /. */
  root: string | null;
  /** PID of the box's systemd, as seen from the machine. */
  pid1: number;
  /** The box's state directory (overlay upper layers, console.log). */
  dir: string;
  /** The cgroup directories box.sh made for the box; gone after stop(). */
  cgroupDirs: string[];
  /** Run a command inside the box. An array is run as is; a string by `/bin/sh -c`. Never throws on exit != 0. */
  exec(cmd: string[] | string, opts?: ExecOptions): Promise<ExecResult>;
  /** Run a shell script inside the box (`/bin/sh -c`; prepend `set -e` yourself if wanted). */
  sh(script: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Like exec, but throws (with stdout and stderr) unless the exit status is 0; resolves to stdout. */
  check(cmd: string[] | string, opts?: ExecOptions): Promise<string>;
  /** `node /run/autoharden-src/dist/cli/main.js ...args` inside the box (build first: `npm run build`). */
  cli(args: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Write a file inside the box (parent directories are created). */
  writeFile(path: string, content: string): Promise<void>;
  /** Read a file inside the box; null when it does not exist. */
  readFile(path: string): Promise<string | null>;
  /** GET a URL from inside the box (Node's fetch), e.g. box.http('http://127.0.0.1:81/'). */
  http(url: string, opts?: { timeoutMs?: number }): Promise<HttpResult>;
  /** `systemctl show UNIT -p …` as a record (ActiveState, Result, ExecMainStatus, …). */
  show(unit: string, props: string[]): Promise<Record<string, string>>;
  /** Install the sample unit (ExecStart → the checkout's sample), daemon-reload, start it, wait for 200 on :81. */
  installSample(opts?: InstallSampleOptions): Promise<void>;
  /** Compile the cost sample on the machine (compileBurner), install its unit (answering on
   * 127.0.0.1:82), start it and wait until `BURNER_BIN_IN_BOX client 1 getppid` succeeds. */
  installBurner(opts?: { timeoutMs?: number }): Promise<void>;
  /** installSample with SAMPLE_HOSTILE=1 (and `env`) set in a drop-in, hostile.conf: the sample
   * takes orders at GET /hostile/ACTION and writes log files (sample/README.md, hostile mode). */
  hostileSample(opts?: InstallSampleOptions): Promise<void>;
  /** GET http://127.0.0.1:81/hostile/ACTION (`query` appended) from inside the box; throws unless 200. */
  hostile(action: string, query?: Record<string, string>): Promise<void>;
  /** Count reads of a (non-empty) file inside the box from now on: inotify IN_ACCESS, so writes do
   * not count; a transient unit of the box's. The watch proves itself with one read first. */
  watchReads(path: string): Promise<ReadWatch>;
  /** Join a remote test host by a veth pair (box 10.251.0.1, remote 10.251.0.2). */
  remote(): Promise<Remote>;
  /** Join an existing netns (e.g. another box's remote().netns, so one host reaches several boxes)
   * on 10.251.N.0/24 (N 1-254): the box is 10.251.N.1 (replacing remote()'s link), the netns
   * 10.251.N.2. Resolves to the box's address. */
  link(netns: string, subnet: number): Promise<string>;
  /** Power the box off and remove its cgroups, netns and files. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Run a program on the machine; resolves with its exit status and output, never rejects on exit != 0. */
export function run(file: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    // detached: its own process group, so a timeout kills nsenter's child as well
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...(opts.env ?? {}) },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => { /* the command may not read its stdin */ });
    child.stdin.end(opts.input ?? '');
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let exitCode: number | null = null;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      let stderr = Buffer.concat(err).toString();
      if (timedOut) stderr += `\n[harness] ${file} ${args.join(' ')}: timed out after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`;
      resolvePromise({ code: timedOut ? 124 : exitCode ?? 1, stdout: Buffer.concat(out).toString(), stderr, timedOut });
    };
    child.on('error', (e) => { clearTimeout(timer); settled = true; reject(e); });
    child.on('exit', (code, signal) => {
      exitCode = code ?? 128 + (signal ? signalNumber(signal) : 0);
      // A process the command left behind may hold the pipes open: don't wait for it forever.
      setTimeout(finish, 500);
    });
    child.on('close', finish);
  });
}

let burnerCompiled = false;
/**
 * Compile sample/autoharden-burner.c with the machine's cc into dist/sample/ (git-ignored; the
 * boxes see it under /run/autoharden-src). Once per process; atomic, so a box never runs half a file.
 */
export function compileBurner(): string {
  if (burnerCompiled && existsSync(BURNER_BIN)) return BURNER_BIN;
  mkdirSync(dirname(BURNER_BIN), { recursive: true });
  const tmp = `${BURNER_BIN}.${process.pid}.tmp`;
  const r = spawnSync('cc', ['-O2', '-Wall', '-o', tmp, join(REPO, 'sample/autoharden-burner.c')], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`compileBurner: cc failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  }
  renameSync(tmp, BURNER_BIN);
  burnerCompiled = true;
  return BURNER_BIN;
}

function signalNumber(signal: NodeJS.Signals): number {
  return osConstants.signals[signal] ?? 0;
}

/**
 * Poll until `predicate` returns something truthy; resolves to that value. Throws after
 * `timeoutMs` with the last value or error in the message.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  timeoutMs: number,
  opts: { intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await predicate();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`waitFor${opts.what ? ` (${opts.what})` : ''}: not true after ${timeoutMs} ms; last: ${detail}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

/** A box name derived from a test file (`import.meta.url`): test/integration/tune.test.ts → "it-tune".
 * AUTOHARDEN_BOX_PREFIX replaces the default prefix, so a second run of the same files (another
 * release's root, another person's run) does not meet the first one's boxes. */
export function boxName(fileUrl: string, prefix = process.env.AUTOHARDEN_BOX_PREFIX || 'it'): string {
  const base = basename(fileURLToPath(fileUrl)).replace(/\.(test|spec)\.[cm]?[jt]s$/, '').replace(/\.[^.]*$/, '');
  const name = `${prefix}-${base}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+$/, '');
  return name.slice(0, 32);
}

// ---- inside-the-box helpers ----

const HTTP_SCRIPT = `
const [url, ms] = process.argv.slice(1);
try {
  const r = await fetch(url, { signal: AbortSignal.timeout(Number(ms)), redirect: 'manual' });
  console.log(JSON.stringify({ status: r.status, body: await r.text() }));
} catch (e) {
  console.log(JSON.stringify({ status: null, body: '', error: e?.cause?.code ?? e?.name ?? String(e) }));
}
process.exit(0);`;

function httpCommand(url: string, timeoutMs: number): string[] {
  return ['/usr/bin/node', '--input-type=module', '-e', HTTP_SCRIPT, url, String(timeoutMs)];
}

// Like HTTP_SCRIPT, from a chosen source address (fetch cannot bind one).
const HTTP_FROM_SCRIPT = `
import { request } from 'node:http';
const [url, ms, localAddress] = process.argv.slice(1);
const out = (o) => { console.log(JSON.stringify(o)); process.exit(0); };
const req = request(url, { localAddress, timeout: Number(ms) }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (c) => { body += c; });
  res.on('end', () => out({ status: res.statusCode, body }));
});
req.on('timeout', () => { req.destroy(); out({ status: null, body: '', error: 'TimeoutError' }); });
req.on('error', (e) => out({ status: null, body: '', error: e.code ?? String(e) }));
req.end();`;

function httpFromCommand(url: string, timeoutMs: number, from: string): string[] {
  return ['/usr/bin/node', '--input-type=module', '-e', HTTP_FROM_SCRIPT, url, String(timeoutMs), from];
}

// The remote client of noise(): bounded in count and time, prints a summary when done or on SIGTERM.
const NOISE_SCRIPT = `
import { request } from 'node:http';
const [url, referer, perSecond, seconds] = process.argv.slice(1);
const max = Math.min(10000, Math.ceil(Number(perSecond) * Number(seconds)));
// one interval of grace: the first request leaves after one interval, the last at the bound
const end = Date.now() + Number(seconds) * 1000 + 1000 / Number(perSecond) + 250;
let sent = 0, answered = 0, open = 0;
const done = () => { console.log(JSON.stringify({ sent, answered })); process.exit(0); };
process.on('SIGTERM', done);
const headers = referer ? { referer } : {};
const timer = setInterval(() => {
  if (sent >= max || Date.now() >= end) { clearInterval(timer); const t = setInterval(() => { if (!open) done(); }, 50); setTimeout(done, 3000).unref(); return; }
  sent++; open++;
  const req = request(url, { headers, timeout: 2000 }, (res) => { res.resume(); res.on('end', () => { answered++; open--; }); });
  req.on('timeout', () => req.destroy());
  req.on('error', () => { open--; });
  req.end();
}, 1000 / Number(perSecond));`;

// watchReads(): counts IN_ACCESS events of one file into OUT (replaced atomically).
const READ_WATCHER = `
import ctypes, os, struct, sys
libc = ctypes.CDLL('libc.so.6', use_errno=True)
path, out = sys.argv[1], sys.argv[2]
fd = libc.inotify_init1(0)
if fd < 0 or libc.inotify_add_watch(fd, path.encode(), 0x1) < 0:
    sys.exit(f'inotify on {path}: errno {ctypes.get_errno()}')
n = 0
def save():
    with open(out + '.tmp', 'w') as f: f.write(f'{n}\\n')
    os.replace(out + '.tmp', out)
save()
while True:
    buf = os.read(fd, 65536)
    i = 0
    while i + 16 <= len(buf):
        _, mask, _, ln = struct.unpack_from('iIII', buf, i)
        i += 16 + ln
        if mask & 0x1: n += 1
    save()
`;
let readWatches = 0;

// Background processes started on remote hosts: an `ip netns del` does not end them.
const backgrounds = new Set<number>();
function killGroup(pid: number): void {
  try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
  backgrounds.delete(pid);
}

function parseHttp(r: ExecResult): HttpResult {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as HttpResult;
  } catch {
    return { status: null, body: '', error: `http helper failed (exit ${r.code}): ${r.stderr.trim()}` };
  }
}

function toArgv(cmd: string[] | string): string[] {
  return typeof cmd === 'string' ? ['/bin/sh', '-c', cmd] : cmd;
}

function withEnv(argv: string[], env?: Record<string, string>): string[] {
  if (!env || Object.keys(env).length === 0) return argv;
  return ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv];
}

function cgroupDirsOf(name: string): string[] {
  return existsSync('/sys/fs/cgroup/unified')
    ? [`/sys/fs/cgroup/unified/ah-${name}`, `/sys/fs/cgroup/systemd/ah-${name}`]
    : [`/sys/fs/cgroup/ah-${name}`];
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

// Boxes this process started; stopped synchronously if the test process exits without stop().
const live = new Map<string, Box>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pid of [...backgrounds]) killGroup(pid);
    for (const name of live.keys()) spawnSync('bash', [BOX_SH, 'stop', name], { stdio: 'ignore' });
  });
}

/**
 * Boot a box. Use one name per test file (see boxName): a box of that name left behind by a dead
 * test process is stopped first; one owned by a live process is an error.
 */
export async function startBox(name: string, options: StartBoxOptions = {}): Promise<Box> {
  if (!/^[a-z0-9-]{1,32}$/.test(name)) throw new Error(`startBox: bad box name ${JSON.stringify(name)}`);
  if (live.has(name)) throw new Error(`startBox: box ${name} already started by this test process`);
  if (process.getuid?.() !== 0) throw new Error('startBox: needs root');
  const dir = join(BOXES_DIR, name);
  const ownerFile = join(dir, 'owner');
  if (existsSync(dir)) {
    const owner = Number(existsSync(ownerFile) ? readFileSync(ownerFile, 'utf8') : NaN);
    if (owner && owner !== process.pid && alive(owner)) {
      throw new Error(`startBox: box ${name} is in use by process ${owner}; pick another name`);
    }
    await run('bash', [BOX_SH, 'stop', name], { timeoutMs: 30_000 });
  }
  const rootEnv: Record<string, string> = options.root === undefined ? {} : { AUTOHARDEN_BOX_ROOT: options.root };
  const started = await run('bash', [BOX_SH, 'start', name], { timeoutMs: 60_000, env: rootEnv });
  const pid1 = Number(started.stdout.trim());
  if (started.code !== 0 || !pid1) {
    throw new Error(`startBox ${name}: box.sh start failed (exit ${started.code}):\n${started.stdout}${started.stderr}`);
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(ownerFile, String(process.pid));

  let stopped = false;
  const ownBackgrounds = new Set<number>();
  const exec = (cmd: string[] | string, opts: ExecOptions = {}) =>
    run('bash', [BOX_SH, 'exec', name, ...withEnv(toArgv(cmd), opts.env)], { ...opts, env: {} });

  const box: Box = {
    name,
    root: existsSync(join(dir, 'root')) ? readFileSync(join(dir, 'root'), 'utf8').trim() : null,
    pid1,
    dir,
    cgroupDirs: cgroupDirsOf(name),
    exec,
    sh: (script, opts) => exec(['/bin/sh', '-c', script], opts),
    async check(cmd, opts) {
      const r = await exec(cmd, opts);
      if (r.code !== 0) {
        throw new Error(`in box ${name}: ${toArgv(cmd).join(' ')} → exit ${r.code}\n${r.stdout}${r.stderr}`);
      }
      return r.stdout;
    },
    cli: (args, opts) => exec(['/usr/bin/node', `${SRC_IN_BOX}/dist/cli/main.js`, ...args], opts),
    async writeFile(path, content) {
      await box.check(['/bin/sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1"', 'sh', path], { input: content });
    },
    async readFile(path) {
      const r = await exec(['cat', path]);
      return r.code === 0 ? r.stdout : null;
    },
    async http(url, opts = {}) {
      const ms = opts.timeoutMs ?? 3000;
      return parseHttp(await exec(httpCommand(url, ms), { timeoutMs: ms + 10_000 }));
    },
    async show(unit, props) {
      const out = await box.check(['systemctl', 'show', unit, ...props.map((p) => `--property=${p}`)]);
      const rec: Record<string, string> = {};
      for (const line of out.split('\n')) {
        const i = line.indexOf('=');
        if (i > 0) rec[line.slice(0, i)] = line.slice(i + 1);
      }
      return rec;
    },
    async installSample(opts = {}) {
      let unit = readFileSync(join(REPO, 'sample', SAMPLE_UNIT), 'utf8').replaceAll('@SRC@', SRC_IN_BOX);
      const envLines = Object.entries(opts.env ?? {}).map(([k, v]) => `Environment="${k}=${v}"`).join('\n');
      if (envLines) unit = unit.replace(/^ExecStart=.*$/m, (line) => `${line}\n${envLines}`);
      await box.writeFile(`/etc/systemd/system/${SAMPLE_UNIT}`, unit);
      await box.check(['systemctl', 'daemon-reload']);
      await box.check(['systemctl', 'reset-failed', SAMPLE_UNIT]).catch(() => undefined);
      await box.check(['systemctl', 'restart', SAMPLE_UNIT]);
      try {
        await waitFor(async () => (await box.http(SAMPLE_URL, { timeoutMs: 1000 })).status === 200,
          opts.timeoutMs ?? 20_000, { what: `${SAMPLE_UNIT} answers 200 on ${SAMPLE_URL}`, intervalMs: 150 });
      } catch (e) {
        const status = await exec(['systemctl', 'status', '--no-pager', '-n', '20', SAMPLE_UNIT]);
        throw new Error(`${(e as Error).message}\n${status.stdout}${status.stderr}`);
      }
    },
    async hostileSample(opts = {}) {
      const env = { SAMPLE_HOSTILE: '1', ...(opts.env ?? {}) };
      const lines = Object.entries(env).map(([k, v]) => `Environment="${k}=${v}"`).join('\n');
      await box.writeFile(`/etc/systemd/system/${SAMPLE_UNIT}.d/hostile.conf`, `[Service]\n${lines}\n`);
      await box.installSample({ timeoutMs: opts.timeoutMs });
    },
    async hostile(action, query) {
      const q = query ? `?${new URLSearchParams(query).toString()}` : '';
      const r = await box.http(`${SAMPLE_URL}hostile/${action}${q}`);
      if (r.status !== 200) throw new Error(`hostile ${action}: ${r.status ?? r.error} ${r.body}`);
    },
    async watchReads(path) {
      const id = `ah-reads-${process.pid}-${++readWatches}`;
      const out = `/run/${id}.count`;
      await box.writeFile('/run/ah-read-watcher.py', READ_WATCHER);
      await box.check(['systemd-run', `--unit=${id}`, '--quiet', '/usr/bin/python3', '/run/ah-read-watcher.py', path, out]);
      const raw = async () => Number((await box.readFile(out))?.trim() ?? NaN);
      await waitFor(async () => (await raw()) === 0, 10_000, { what: `the read watch on ${path} is up` });
      await box.check(['head', '-c', '1', path]);
      await waitFor(async () => (await raw()) === 1, 10_000, { what: `the read watch on ${path} sees a read` });
      return {
        count: async () => (await raw()) - 1,
        async stop() { await box.exec(['systemctl', 'stop', id]); },
      };
    },
    async installBurner(opts = {}) {
      compileBurner();
      const unit = readFileSync(join(REPO, 'sample', BURNER_UNIT), 'utf8').replaceAll('@BIN@', BURNER_BIN_IN_BOX);
      await box.writeFile(`/etc/systemd/system/${BURNER_UNIT}`, unit);
      await box.check(['systemctl', 'daemon-reload']);
      await box.check(['systemctl', 'reset-failed', BURNER_UNIT]).catch(() => undefined);
      await box.check(['systemctl', 'restart', BURNER_UNIT]);
      try {
        await waitFor(async () => (await exec([BURNER_BIN_IN_BOX, 'client', '1', 'getppid'], { timeoutMs: 5000 })).code === 0,
          opts.timeoutMs ?? 20_000, { what: `${BURNER_UNIT} answers on 127.0.0.1:82`, intervalMs: 100 });
      } catch (e) {
        const status = await exec(['systemctl', 'status', '--no-pager', '-n', '20', BURNER_UNIT]);
        throw new Error(`${(e as Error).message}\n${status.stdout}${status.stderr}`);
      }
    },
    async remote() {
      const r = await run('bash', [BOX_SH, 'remote', name], { timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`box.sh remote ${name} failed (exit ${r.code}):\n${r.stdout}${r.stderr}`);
      const netns = r.stdout.trim().split('\n').pop()!;
      const rexec = (cmd: string[] | string, opts: ExecOptions = {}) =>
        run('ip', ['netns', 'exec', netns, ...withEnv(toArgv(cmd), opts.env)], { ...opts, env: {} });
      return {
        netns,
        address: REMOTE_ADDRESS,
        boxAddress: BOX_ADDRESS,
        exec: rexec,
        sh: (script, opts) => rexec(['/bin/sh', '-c', script], opts),
        async http(url, opts = {}) {
          const ms = opts.timeoutMs ?? 3000;
          const cmd = opts.from ? httpFromCommand(url, ms, opts.from) : httpCommand(url, ms);
          return parseHttp(await rexec(cmd, { timeoutMs: ms + 10_000 }));
        },
        async addAddress(address) {
          const links = await run('ip', ['-n', netns, '-o', 'link', 'show', 'type', 'veth'], { timeoutMs: 10_000 });
          const dev = /^\d+:\s+([^:@\s]+)/.exec(links.stdout)?.[1];
          if (!dev) throw new Error(`remote ${netns}: no veth link:\n${links.stdout}${links.stderr}`);
          const r = await run('ip', ['-n', netns, 'addr', 'replace', `${address}/24`, 'dev', dev], { timeoutMs: 10_000 });
          if (r.code !== 0) throw new Error(`remote ${netns}: ip addr add ${address} failed:\n${r.stderr}`);
        },
        noise(url, opts) {
          // Only at the box across the test link: never anything else.
          if (!/^http:\/\/10\.251\.0\.\d{1,3}(:\d+)?\//.test(url)) throw new Error(`noise: ${url} is not on the box's link 10.251.0.0/24`);
          if (!(opts.perSecond > 0 && opts.perSecond <= 50 && opts.seconds > 0 && opts.seconds <= 900)) throw new Error('noise: perSecond in (0, 50], seconds in (0, 900]');
          const args = ['netns', 'exec', netns, '/usr/bin/node', '--input-type=module', '-e', NOISE_SCRIPT, url, opts.referer ?? '', String(opts.perSecond), String(opts.seconds)];
          const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
          const pid = child.pid!;
          backgrounds.add(pid);
          ownBackgrounds.add(pid);
          let out = '';
          child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
          const hardStop = setTimeout(() => killGroup(pid), (opts.seconds + 10) * 1000);
          const done = new Promise<{ sent: number; answered: number }>((res) => {
            const finish = () => {
              clearTimeout(hardStop);
              backgrounds.delete(pid);
              ownBackgrounds.delete(pid);
              try { res(JSON.parse(out.trim().split('\n').pop() ?? '') as { sent: number; answered: number }); } catch { res({ sent: -1, answered: -1 }); }
            };
            child.once('close', finish);
            child.once('error', finish);
          });
          return {
            done,
            async stop() {
              try { process.kill(-pid, 'SIGTERM'); } catch { /* gone */ }
              const t = setTimeout(() => killGroup(pid), 5000);
              const r = await done;
              clearTimeout(t);
              return r;
            },
          };
        },
        background(cmd) {
          const child = spawn('ip', ['netns', 'exec', netns, ...toArgv(cmd)], { stdio: 'ignore', detached: true });
          child.unref();
          const pid = child.pid!;
          backgrounds.add(pid);
          ownBackgrounds.add(pid);
          const exited = new Promise<void>((res) => {
            child.once('exit', () => res());
            child.once('error', () => res());
          });
          return {
            pid,
            async kill() {
              killGroup(pid);
              ownBackgrounds.delete(pid);
              await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
            },
          };
        },
      };
    },
    async link(netns, subnet) {
      const r = await run('bash', [BOX_SH, 'link', name, netns, String(subnet)], { timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`box.sh link ${name} ${netns} ${subnet} failed (exit ${r.code}):\n${r.stdout}${r.stderr}`);
      return r.stdout.trim().split('\n').pop()!;
    },
    async stop() {
      for (const pid of [...ownBackgrounds]) killGroup(pid);
      ownBackgrounds.clear();
      if (stopped) return;
      const r = await run('bash', [BOX_SH, 'stop', name], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`box.sh stop ${name} failed (exit ${r.code}):\n${r.stdout}${r.stderr}`);
      stopped = true;
      live.delete(name);
    },
  };
  live.set(name, box);
  installExitHook();
  return box;
}
