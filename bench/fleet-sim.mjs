// apply's search on every single-culprit position, n = 2 … 64 (issue 16's target): trials of the
// bisection by exclusion apply uses (core/profileSearch.ts) against tune's group testing as apply
// used it before (Adaptive, every prior 0.95, no calibration). A trial is one restart; tune's
// planner also restarts to revert after two failures in a row, which this does not count.
// Run: npm run -s build && node bench/fleet-sim.mjs
import { ProfileBisection } from '../dist/core/profileSearch.js';
import { Adaptive } from '../dist/core/search.js';

const cand = (name) => ({ spec: { name, weight: 1, prior: 0.95 }, rungs: [{ value: 'yes', lines: [`${name}=yes`], residual: 0, inForce: () => true }] });

function trials(planner, bad) {
  const kept = new Set();
  let t = 0;
  for (let s = planner.next(); s; s = planner.next()) {
    t++;
    const ok = ![...kept, ...s.map((x) => x.option)].includes(bad);
    if (ok) for (const x of s) kept.add(x.option);
    planner.report(ok, []);
  }
  return t;
}

const rows = [['n', '1+ceil(log2 n)', 'exclusion: max', 'mean', 'group testing: max', 'mean']];
for (const n of [2, 3, 4, 5, 8, 12, 16, 20, 27, 32, 48, 64]) {
  const cands = Array.from({ length: n }, (_, i) => cand(`O${i}`));
  const ex = [];
  const gt = [];
  for (let b = 0; b < n; b++) {
    ex.push(trials(new ProfileBisection(cands), `O${b}`));
    gt.push(trials(new Adaptive(cands, { priorOf: () => 0.95, calibrate: false }), `O${b}`));
  }
  const mean = (a) => (a.reduce((x, y) => x + y, 0) / a.length).toFixed(2);
  rows.push([n, 1 + Math.ceil(Math.log2(n)), Math.max(...ex), mean(ex), Math.max(...gt), mean(gt)]);
}
for (const r of rows) console.log(r.map((c, i) => String(c).padStart(i ? 20 : 4)).join(''));
