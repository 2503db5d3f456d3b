import { defineConfig } from 'vitest/config';

// Tiers, fastest first. `unit`: pure logic, nothing provisioned, no worker. `mock`: the real CLI,
// worker and socket on the sleep backend (the torch environment only). `faults`: faults injected into
// real runs on the sleep backend. `real`: real backends, allocators, OpenVINO, Slurm and a browser.
// `npm run test:fast` is unit and mock; `npm test` (scripts/test.sh) runs every tier, and the machine
// tier (vitest.machine.config.ts) alone after them.
const tier = (name: string, dirs: string[], setup?: string, timeoutS = 180, isolate = true) => ({
  test: {
    name,
    include: dirs.map((d) => `test/${d}/**/*.test.ts`),
    ...(setup ? { globalSetup: [`test/setup/${setup}.ts`] } : {}),
    testTimeout: timeoutS * 1000,
    hookTimeout: 600_000,
    isolate,
  },
});

export default defineConfig({
  test: {
    projects: [
      // Pure logic shares one process per worker: a fresh process per file cost more CPU than the tests.
      tier('unit', ['unit'], undefined, 60, false),
      tier('mock', ['mock'], 'mock'),
      tier('faults', ['faults'], 'faults'),
      tier('real', ['real'], 'real'),
    ],
    // Three files at a time: the sleep backend's workers mostly wait, and no verdict depends on timing,
    // so sharing the 2 cores only changes how long a tier takes.
    fileParallelism: true,
    maxWorkers: 3,
  },
});
