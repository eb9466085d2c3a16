// Simulation of the search strategies against a synthetic service (no systemd needed).
// Run after `npm run build`: node bench/search-sim.mjs [instances] [seed]
import { formatTable, simulate } from '../dist/core/searchSim.js';

const instances = Number(process.argv[2] ?? 100);
const seed = Number(process.argv[3] ?? 1);
const rows = simulate({ ns: [10, 20, 30, 40], ks: [0, 1, 2, 4, 8], instances, seed });
console.log(`Mean trials over ${instances} seeded instances each (seed ${seed}); ladders of 1-3 rungs,`);
console.log('catalog-like priors, breaking options drawn with weight 1 - prior, a weaker rung breaks too with chance 0.4.');
console.log(formatTable(rows));
const mism = rows.reduce((s, r) => s + r.mismatches, 0);
if (mism) console.log(`\n${mism} instances ended with different accepted sets (should be 0)`);
