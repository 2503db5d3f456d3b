import { defineConfig } from 'vitest/config';
import { sessionRoot } from './test/session.ts';

// One folder for everything this run's tests make, old runs' pruned (test/session.ts).
sessionRoot();

// Tests that change the machine itself (a cgroup's CPU quota) and read real timings from it: one
// file at a time, after the main suite, so nothing else runs on the 2 cores while they measure.
export default defineConfig({
  test: {
    include: ['test/machine/**/*.test.ts'],
    globalSetup: ['test/setup/mock.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 900_000,
    hookTimeout: 600_000,
  },
});
