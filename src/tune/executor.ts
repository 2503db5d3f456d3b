// The real executor of the search: a round is one ladder run (the reference first, then the
// round's candidates) in its own folder, through executeRun: the same workers, proofs, quality
// guard and run store as `ladder reproduce`. A round already finished in that folder is read back
// (`--resume`), and an interrupted one is continued.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Objective, ranked } from '../results/best.ts';
import { type RunFile, type RungResult, readRunFile } from '../results/run-file.ts';
import { executeRun, type Log, type RunSettings } from '../run/execute.ts';
import type { Ladder, Rung } from '../rungs/ladder.ts';
import type { Executor, Measured, RoundResult } from './search.ts';
import type { Candidate } from './space.ts';

export type { Objective };

/** What the search ranks of a rung: see `ranked` (the same measure as "Best on this machine"). */
export function toMeasured(r: RungResult, objective: Objective = 'latency'): Measured {
  const passes = r.samples_s.reduce((a, b) => a + b, 0) / (r.instances?.length ?? 1);
  const m = r.status === 'ok' ? ranked(r, objective) : undefined;
  return {
    id: r.id,
    status: m ? 'ok' : r.status === 'skipped' ? 'skipped' : 'failed',
    reason: r.status === 'skipped' ? r.skipped : (r.error ?? (m ? undefined : `no ${objective} measured`)),
    samples_s: m?.samples_s ?? r.samples_s,
    median_s: m?.median_s ?? r.stats?.median_s,
    quality: r.quality ? { psnr_db: r.quality.psnr_db, flagged: r.quality.flagged } : undefined,
    // Everything but the timed passes: start, load (export, compile, calibration), warm-up.
    setup_s: Math.max(0, (r.timings?.wall_s ?? passes) - passes),
    pass_s: r.stats?.median_s,
  };
}

/** Wall seconds of a run: from its stamps, or for an interrupted one, what its rungs took. */
function elapsed(run: RunFile): number {
  if (run.finished) return Math.max(0, (Date.parse(run.finished) - Date.parse(run.started)) / 1000);
  return run.rungs.reduce((s, r) => s + (r.timings?.wall_s ?? 0), 0);
}

export class RunExecutor implements Executor {
  constructor(
    private readonly reference: Rung,
    private readonly settings: RunSettings,
    private readonly dir: string,
    private readonly log: Log,
    private readonly resume: boolean,
    private readonly objective: Objective = 'latency',
  ) {}

  roundDir = (index: number) => path.join(this.dir, `round-${index}`);

  async round(index: number, candidates: Candidate[], passes: number, budgetLeftS: number): Promise<RoundResult> {
    const dir = this.roundDir(index);
    const rungs = [this.reference, ...candidates.map((c) => c.rung)];
    const ladder: Ladder = { name: `tune-round-${index}`, file: path.join(this.dir, 'tune.json'), rungs };
    const file = path.join(dir, 'run.json');
    let previous = this.resume && existsSync(file) ? readRunFile(file).run : undefined;
    const same =
      previous &&
      previous.rungs.length <= rungs.length &&
      previous.rungs.every((r, i) => r.id === rungs[i]?.id) &&
      (previous.rungs[0]?.config as { scenario?: { passes?: number } })?.scenario?.passes === passes;
    if (previous && !same) previous = undefined;
    if (previous?.finished) {
      this.log(`round ${index}: kept from the interrupted search (${dir})`);
      return { measured: previous.rungs.map((r) => toMeasured(r, this.objective)), seconds: elapsed(previous) };
    }
    this.log(`round ${index}: ${candidates.length} candidates and the reference, ${passes} passes each`);
    const t0 = performance.now();
    const run = await executeRun(
      ladder,
      rungs,
      {
        ...this.settings,
        outDir: dir,
        scenario: { ...this.settings.scenario, passes, min_time_s: 0 },
        // Rounds only rank candidates: no roofline or machine probe. The image of a configuration
        // does not change between rounds, so only the screening round judges it.
        roofline: false,
        machineProbe: false,
        quality: index === 0,
        deadline: Date.now() + budgetLeftS * 1000,
      },
      this.log,
      previous,
    );
    // An interrupted round's earlier part counts too: the budget is the search's wall time.
    const seconds = (performance.now() - t0) / 1000 + (previous ? elapsed(previous) : 0);
    return { measured: run.rungs.map((r) => toMeasured(r, this.objective)), seconds };
  }
}
