// Runs the guard's trusted sandbox check from inside a box and prints one JSON document (used by
// sandbox-check.test.ts):   node sandbox-check-cli.mjs UNIT 'Key=value;Key=value' …
// Each further argument is one setting; its lines are separated by ';'. Needs dist/ built.
import { RuntimeUnitFiles } from '../../dist/adapters/unitFiles.js';
import { Systemd } from '../../dist/adapters/systemd.js';
import { checkSandbox } from '../../dist/engine/sandboxCheck.js';

const [unit, ...specs] = process.argv.slice(2);
const settings = specs.map((s) => ({ option: s.split('=')[0], value: s, lines: s.split(';') }));
const systemd = await Systemd.connect();
try {
  console.log(JSON.stringify(await checkSandbox(systemd, new RuntimeUnitFiles(), unit, settings)));
} finally {
  systemd.close();
  process.exit(0);
}
