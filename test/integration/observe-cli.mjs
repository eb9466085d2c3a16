// Observes a unit from inside a box and prints one JSON document (used by observe.test.ts):
//   node observe-cli.mjs UNIT      needs dist/ built (the test compiles the adapter first)
import { execFileSync } from 'node:child_process';
import { observeUnit } from '../../dist/adapters/procfs.js';
import * as o from '../../dist/core/observe.js';

const unit = process.argv[2];
const show = execFileSync('systemctl', ['show', '-p', 'MainPID,ControlGroup,ExecStart', unit], { encoding: 'utf8' });
const prop = (k) => new RegExp(`^${k}=(.*)$`, 'm').exec(show)?.[1] ?? '';
const execStartBinary = /path=(\S+)/.exec(prop('ExecStart'))?.[1] ?? '';
const obs = await observeUnit(Number(prop('MainPID')), prop('ControlGroup'), { sessions: { unitName: unit, execStartBinary } });
console.log(JSON.stringify({
  observation: obs,
  listeners: o.listeners(obs).map((s) => `${s.proto} ${o.formatEndpoint(s.local)}`),
  listensOnNonLoopback: o.listensOnNonLoopback(obs),
  usesInet: o.usesInet(obs),
  families: o.familiesInUse(obs),
  peers: o.peers(obs),
  sessionEvidence: obs.sessions ? o.sessionEvidence(obs.sessions) : [],
}));
