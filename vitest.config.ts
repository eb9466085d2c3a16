import { defineConfig } from 'vitest/config';

// Two projects: `unit` (no systemd, files in parallel) and `integration` (each file boots a real
// systemd box; the machine has 2 cores, so one file at a time, after the unit tests).
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
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
