// The explain job: one UNet call of a loaded rung profiled inside its worker (`ladder explain`, and
// after the passes of a rung run with --explain), and the peaks its rates are placed against.
import { ToggleError } from '../errors.ts';
import { machine } from '../machine.ts';
import { type ExplainProfile, explainSummary, neededPeaks } from '../results/explain.ts';
import { type Rung, resolvedOptions, withThreads } from '../rungs/ladder.ts';
import type { Scenario } from '../rungs/settings.ts';
import type { WorkerSession } from '../worker/session.ts';
import { peakCacheFile, probeJob, readPeaks } from './roofline-step.ts';
import { explainJob, type Log, loadInstance, type RungSettings } from './rung.ts';
import { verifyLoaded } from './verify.ts';

/** A short probe of a peak the cache does not have: `ladder explain` answers in a minute, not ten. */
export const EXPLAIN_PROBE = { repeats: 1, seconds: 1 };

export interface Explained {
  rung: string;
  backend: string;
  model: string;
  scenario: Scenario;
  profile: ExplainProfile;
  peaks_gflops: Record<string, number>;
  /** Where each peak came from: the machine's peak cache, or a short probe in this worker. */
  peaks_source: Record<string, 'cache' | 'probed'>;
}

/**
 * `ladder explain`: a fresh worker for the rung, loaded and proven as a run loads it, one UNet call
 * profiled, and the peaks of the dtypes it ran in (the machine's cached peaks; a short probe in the
 * same worker for those it lacks or that the call beat, and for the sleep mock, whose probe is scripted).
 */
export async function explainRung(
  given: Rung,
  settings: RungSettings & { threads?: number },
  log: Log,
): Promise<Explained> {
  const rung = withThreads(given, settings.threads);
  const sessions: WorkerSession[] = [];
  try {
    // `explain` in the load's scenario: torch-compile generates its kernels with profiling records.
    const loading = { ...settings, scenario: { ...settings.scenario, explain: true } as Scenario };
    const inst = await loadInstance(rung, loading, log, sessions, 0);
    const problems = verifyLoaded(rung, inst.effective);
    if (problems.length) throw new ToggleError(rung.id, problems);
    log('  profiling one UNet call');
    const profile = await explainJob(inst.session, settings);
    const needed = neededPeaks(profile);
    const cached = settings.model === 'none' ? {} : readPeaks(await peakCacheFile(machine()), log);
    const peaks: Record<string, number> = {};
    const source: Explained['peaks_source'] = {};
    for (const d of needed)
      if (cached[d] !== undefined) {
        peaks[d] = cached[d];
        source[d] = 'cache';
      }
    // A peak the cache lacks, or one below what a group of this call achieved (probed in a slow moment,
    // as the roofline step says too), is probed in this worker; the higher reading is kept.
    const above = (d: string) =>
      explainSummary(profile, peaks).groups.some((g) => g.dtype === d && (g.pct_of_peak ?? 0) > 100);
    const probe = needed.filter((d) => peaks[d] === undefined || above(d));
    if (probe.length) {
      log(`  probing the ${probe.join('/')} matrix-product peak (short: the cache has none, or one below this call)`);
      const res = await probeJob(inst.session, {
        dtypes: probe,
        ...EXPLAIN_PROBE,
        label: 'start',
        options: resolvedOptions(rung),
      });
      for (const d of probe) {
        const got = res.gflops[d]!;
        if (peaks[d] === undefined || got > peaks[d]) {
          peaks[d] = got;
          source[d] = 'probed';
        }
      }
    }
    await inst.session.shutdown();
    return {
      rung: rung.id,
      backend: rung.backend,
      model: settings.model,
      scenario: settings.scenario,
      profile,
      peaks_gflops: peaks,
      peaks_source: source,
    };
  } finally {
    for (const s of sessions) s.kill();
  }
}
