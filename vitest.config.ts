import { defineConfig } from 'vitest/config';

// Three projects, in order: `unit` (no systemd, files in parallel), `integration` (each file boots
// a real systemd box; two files at a time) and `integration-serial` (cost measurements, one at a
// time with nothing beside them).
const SERIAL = ['test/integration/cost-*.test.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Many unit tests wait on child processes and real timers rather than the CPU: on 2 cores
          // 4 workers took 0.73x the time of 2 (a busy machine can reverse that: 1.28x at load 12).
          maxWorkers: 4,
          testTimeout: 30_000,
          hookTimeout: 30_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          // Two files at a time: a box mostly waits (settle periods, restarts, probes), so two boxes
          // share 2 cores well. Checked under load 15 (4 files, 2 at a time, 16/16 passed).
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: SERIAL,
          maxWorkers: 2,
          testTimeout: 180_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          // The files that measure what seccomp costs: alone, so another box's load is not counted.
          name: 'integration-serial',
          include: SERIAL,
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
