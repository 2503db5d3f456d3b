import path from 'node:path';
import { defineConfig } from 'vitest/config';
import type { TestSpecification } from 'vitest/node';
import { BaseSequencer } from 'vitest/node';
import { cacheRoot } from './src/paths.ts';
import { sessionRoot } from './test/session.ts';

// Tiers, fastest first. `unit`: pure logic, nothing provisioned, no worker. `mock`: the real CLI,
// worker and socket on the sleep backend (the torch environment only). `faults`: faults injected into
// real runs on the sleep backend. `real`: real backends, allocators, OpenVINO, Slurm and a browser.
// `npm run test:fast` is unit and mock; `npm test` (scripts/test.sh) runs every tier, and the machine
// tier (vitest.machine.config.ts) alone after them.
// Every tier shares one process per worker (isolate: false): a fresh process per file, importing the
// sources again, cost more CPU than the unit tests themselves, and in the whole suite vitest's own
// transform and import took 40 s instead of 23. No test file changes process state it does not restore
// (ladder() restores the environment and the streams it swaps).
const tier = (name: string, dirs: string[], setup?: string, timeoutS = 180) => ({
  test: {
    name,
    include: dirs.map((d) => `test/${d}/**/*.test.ts`),
    ...(setup ? { globalSetup: [`test/setup/${setup}.ts`] } : {}),
    testTimeout: timeoutS * 1000,
    hookTimeout: 600_000,
    isolate: false,
  },
});

// The slowest tier starts first, its slowest files first (durations of earlier runs, kept in the
// cache outside the checkout like the environments, so a fresh clone has them too; a file never run
// before goes first). The quick tiers then fill the gaps, and no long file is left running alone at the
// end of the suite.
const FIRST = ['real', 'faults', 'mock', 'unit'];
class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => FIRST.indexOf(f.project.name) >>> 0;
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}
// One folder for everything this run's tests make, old runs' pruned (test/session.ts).
sessionRoot();

export default defineConfig({
  cacheDir: path.join(cacheRoot(), 'vitest'),
  test: {
    sequence: { sequencer: SlowestFirst },
    projects: [
      tier('unit', ['unit'], undefined, 60),
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
