// A benchmark of the controller itself: how much it disturbs what it measures. Prints figures
// against the targets; it is not a test (timing targets do not belong in tests).
import path from 'node:path';
import type { Argv } from 'yargs';
import { executeRun } from '../run/execute.ts';
import { loadLadder } from '../rungs/ladder.ts';
import { PROFILES } from '../rungs/settings.ts';
import { outDirFrom } from './run.ts';

export const overheadCommand = {
  command: 'overhead',
  describe: 'Benchmark the controller: its CPU time while a worker measures, and the job time gap (synthetic:tiny)',
  builder: (y: Argv) =>
    y
      .option('passes', { type: 'number', default: 50, describe: 'timed passes of the tiny baseline' })
      .option('out', { type: 'string', describe: 'output directory' }),
  handler: async (a: { passes: number; out?: string }) => {
    const rung = loadLadder().rungs[0]!;
    const outDir = outDirFrom({ out: a.out, force: true }, 'overhead');
    const run = await executeRun(
      loadLadder(),
      [rung],
      {
        model: 'synthetic:tiny',
        scenario: { ...PROFILES.smoke!, steps: 1, passes: a.passes },
        outDir,
        command: ['ladder', ...process.argv.slice(2)].join(' '),
        roofline: false,
      },
      () => undefined,
    );
    const r = run.rungs[0]!;
    if (r.status !== 'ok' || !r.overhead || !r.stats)
      throw new Error(`overhead run failed: ${r.error ?? 'no figures'}`);
    const o = r.overhead;
    const verdict = (ok: boolean) => (ok ? 'within target' : 'OVER TARGET');
    console.log(
      `passes: ${r.stats.n} x ${(r.stats.median_s * 1000).toFixed(1)} ms (median), ${r.samples_s.reduce((x, y) => x + y, 0).toFixed(2)} s measured`,
    );
    console.log(
      `controller CPU while the worker measured: ${(o.controller_cpu_s! * 1000).toFixed(1)} ms = ${o.controller_cpu_pct_of_passes!.toFixed(3)}% of pass time (target < 0.5%: ${verdict(o.controller_cpu_pct_of_passes! < 0.5)})`,
    );
    console.log(
      `job time gap, controller vs worker: bench ${o.bench_job_gap_ms!.toFixed(2)} ms, load ${o.load_job_gap_ms!.toFixed(2)} ms (target < 5 ms: ${verdict(Math.max(o.bench_job_gap_ms!, o.load_job_gap_ms!) < 5)})`,
    );
    console.log(`run: ${path.join(outDir, 'run.json')}`);
  },
};
