import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The machine tier runs alone, after this suite (vitest.machine.config.ts).
    exclude: ['test/machine/**', '**/node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    // Two files at a time: most integration tests run the sleep (mock) backend, whose workers mostly
    // wait, beside the one file that computes for real (ladder.test.ts). No verdict depends on timing,
    // so sharing the 2 cores only changes how long the suite takes.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 180_000,
    hookTimeout: 600_000,
  },
});
