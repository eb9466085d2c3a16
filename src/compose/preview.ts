// The read-only wiring `plan` and `scan` run on: reads over D-Bus, /proc and systemd-analyze. None
// of these writes a file, reloads systemd or restarts a unit — unlike the tune's platform read,
// which runs throwaway check units (adapters/bpfCheck.ts, syscallGroups.ts readResolved…): plan
// reads the platform without them and says which decisions wait for them.
export { exposure, exposureRows } from '../adapters/analyze.js';
export { exposureListing } from '../adapters/analyzeAll.js';
export { observeService } from '../adapters/observeService.js';
export { readPlatform } from '../adapters/platform.js';
export { runProbes } from '../adapters/probes.js';
export { readSyscallGroups } from '../adapters/syscallGroups.js';
export { Systemd } from '../adapters/systemd.js';
export { journalFor } from './state.js';
