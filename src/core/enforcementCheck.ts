// Trusted evidence that systemd enforces a setting it reports either way (core/bpfOptions.ts):
// autoharden's own oneshot unit with one setting that must make a known operation fail if systemd
// enforces it. What counts is how that process ended, recorded by systemd; the tuned service is
// not involved. Pure: the unit's text and how to read its end (adapters/bpfCheck.ts runs it).
import type { EnforcementKey } from './bpfOptions.js';
import { describeEnd, endOf } from './cause.js';
import { MARKER } from './dropin.js';
import { CLD_EXITED } from './exitStatus.js';
import type { Needs } from './needs.js';
import type { UnitSnapshot } from './types.js';

export interface Enforcement {
  enforced: boolean;
  /** What the check did and saw, for the skip reason or the report. */
  checked: string;
}

export interface EnforcementCheck {
  key: EnforcementKey;
  /** What the check needs besides enforcement (checks are run only where these are met). */
  needs: Needs;
  lines: string[];
  /** ExecStart= argv, given the path of node. */
  argv(node: string): string[];
  /** The exit status that means "the operation was refused". */
  refused: number;
  /** What the process tries, for people. */
  tries: string;
}

const BPF: Needs = { features: ['BPF_FRAMEWORK'] };
// Exit 3 on EPERM/EACCES, 4 on any other error; 0 when the operation went through.
const LISTEN = "const s=require('net').createServer();s.on('error',e=>process.exit(e.code==='EPERM'||e.code==='EACCES'?3:4));s.listen(0,'127.0.0.1',()=>process.exit(0))";
const SEND = "const d=require('dgram').createSocket('udp4');d.on('error',()=>process.exit(4));d.send('x',9,'127.0.0.1',e=>process.exit(e?(e.code==='EPERM'||e.code==='EACCES'?3:4):0))";

export const ENFORCEMENT_CHECKS: readonly EnforcementCheck[] = [
  {
    key: 'SocketBindDeny', needs: { ...BPF, systemd: 249 }, lines: ['SocketBindDeny=any'],
    argv: (node) => [node, '-e', LISTEN], refused: 3, tries: 'listen on 127.0.0.1 (port 0)',
  },
  {
    key: 'RestrictFileSystems', needs: { ...BPF, systemd: 250, lsm: 'bpf' }, lines: ['RestrictFileSystems=~proc'],
    argv: () => ['/bin/cat', '/proc/version'], refused: 1, tries: 'read /proc/version',
  },
  {
    key: 'RestrictNetworkInterfaces', needs: { ...BPF, systemd: 250 }, lines: ['RestrictNetworkInterfaces=~lo'],
    argv: (node) => [node, '-e', SEND], refused: 3, tries: 'send a UDP datagram to 127.0.0.1',
  },
];

// A path systemd takes as one word with no specifier or escape in it.
const SAFE_PATH = /^\/[A-Za-z0-9._+/-]{1,255}$/;
// One double-quoted word: no quote, backslash, $ or % (specifiers) inside.
const SAFE_ARG = /^[^"\\$%\n\r\u0000]{1,2048}$/;

/** The check unit's text; throws when an argument cannot be written safely. */
export function renderEnforcementUnit(check: EnforcementCheck, node: string): string {
  const argv = check.argv(node);
  if (!SAFE_PATH.test(argv[0]!) || !argv.slice(1).every((a) => SAFE_ARG.test(a))) {
    throw new Error(`cannot write the ${check.key} check's command line safely (${argv[0]})`);
  }
  return [
    MARKER,
    `# Check that systemd enforces ${check.lines.join(' ')}: ${check.tries} must fail. Removed after the check.`,
    '[Unit]',
    `Description=autoharden check: does systemd enforce ${check.key}`,
    'DefaultDependencies=no',
    '',
    '[Service]',
    'Type=oneshot',
    `ExecStart=${argv[0]} ${argv.slice(1).map((a) => `"${a}"`).join(' ')}`,
    'TimeoutStartSec=30',
    ...check.lines,
    '',
  ].join('\n');
}

/** How the check unit ended, as an enforcement fact. Only the refused status counts as enforced;
 * success says the operation went through, anything else proves nothing (not enforced). */
export function enforcementFrom(check: EnforcementCheck, jobResult: string, snap: UnitSnapshot): Enforcement {
  const under = check.lines.join(' ');
  if (jobResult === 'done' && snap.result === 'success') {
    return { enforced: false, checked: `${check.tries} succeeded under ${under}` };
  }
  if (snap.execMainCode === CLD_EXITED && snap.execMainStatus === check.refused) {
    return { enforced: true, checked: `${check.tries} was refused under ${under}` };
  }
  const end = endOf(snap.execMainCode, snap.execMainStatus);
  return { enforced: false, checked: `the check under ${under} ${end ? `ended with ${describeEnd(end)}` : `did not run (start job ${jobResult}, Result=${snap.result})`}` };
}

