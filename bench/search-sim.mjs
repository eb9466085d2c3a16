// Simulation of the search strategies against a synthetic service: no systemd, no root.
// Build first (npm run build), then: node bench/search-sim.mjs [instances] [seed]
import { formatTable, simulate } from '../dist/core/searchSim.js';

const instances = Number(process.argv[2] ?? 100);
const seed = Number(process.argv[3] ?? 1);
const grid = { ns: [10, 20, 30, 40], ks: [0, 1, 2, 4, 8], instances, seed };

const models = [
  ['Catalog-like priors, as they are (the planner has to learn how fragile the service is)', {}],
  ['Priors rescaled so that the expected number of breaking options is k (priors right on average)', { calibrated: true }],
  ['Uninformative priors (all 0.9; breaking options drawn uniformly)', { priors: [0.9], informative: false }],
];

console.log(`Mean over ${instances} seeded instances per row (seed ${seed}). n options with ladders of 1-3 rungs;`);
console.log('the strongest rung of k of them breaks (drawn with weight 1 - prior), each weaker rung of a');
console.log('breaking option breaks too with chance 0.4. Restarts count one more per failed trial (the revert).');
let mismatches = 0;
for (const [title, instance] of models) {
  const rows = simulate({ ...grid, instance });
  mismatches += rows.reduce((s, r) => s + r.mismatches, 0);
  console.log(`\n${title}\n`);
  console.log(formatTable(rows));
}
if (mismatches) {
  console.log(`\n${mismatches} instances ended with different accepted sets: a bug.`);
  process.exitCode = 1;
}
