import { defineConfig } from 'vitest/config';

// Tiers. `unit`: pure logic, seconds, nothing provisioned (`npm run test:unit`). `integration`: the
// real CLI, worker, socket, allocators, OpenVINO, Slurm and browser, plus the fault suite; its global
// setup provisions the environments it runs in. The machine tier (vitest.machine.config.ts) changes
// the machine itself and runs alone, after these.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/faults/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 600_000,
        },
      },
    ],
    // Two files at a time: most integration tests run the sleep (mock) backend, whose workers mostly
    // wait, beside the files that compute for real. No verdict depends on timing, so sharing the 2
    // cores only changes how long the suite takes.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
