// "Best on this machine": the fastest rung whose image held the quality floor, and how sure its
// speedup over the ladder's first rung (the reference, `openvino-static` in the beyond ladder) is.
// Latency ranks seconds per image of one worker; throughput ranks images/s of all of a rung's
// instances together, and is only asked when some rung ran several instances.
import type { RunFile, RungResult } from './run-file.ts';
import { judgeSamples, minPValue, passesForSignificance, ratioCI, type Verdict } from './significance.ts';
import { interleaved } from './speedups.ts';

export type Objective = 'latency' | 'throughput';

/**
 * What a rung is ranked by. Latency: its passes and their median. Throughput: seconds per image of
 * all its instances together, per round of passes, and 1 / images/s over their common window.
 */
export function ranked(r: RungResult, objective: Objective): { samples_s: number[]; median_s: number } | undefined {
  if (objective === 'throughput')
    return r.throughput && { samples_s: r.throughput.pass_s_per_image, median_s: 1 / r.throughput.images_per_s };
  return r.stats && { samples_s: r.samples_s, median_s: r.stats.median_s };
}

/** The U test's significance level and the smallest speedup worth a configuration change. */
export const BEST_TEST = { alpha: 0.05, factor: 0.05 };

export interface Best {
  objective: Objective;
  rung: RungResult;
  reference: RungResult;
  /** Median of the reference over median of the rung (images/s of the rung over the reference's, for throughput). */
  speedup: number;
  /** Distribution-free CI of the speedup and the coverage it really has (below 95% for few passes). */
  ci?: { ci: [number, number]; level: number };
  /**
   * reference: no rung beat the reference. Otherwise the U test's verdict on the passes (unpaired
   * runs), or for a paired ratio 'faster' when its interval is above 1, else 'unchanged'.
   */
  verdict: 'reference' | Verdict;
  /** The U test's p (unpaired runs); undefined for a paired ratio, judged by its interval. */
  p?: number;
  /** The U test's sample sizes: passes of the rung and of the reference (unpaired runs). */
  passes?: [number, number];
  /** When those passes are too few for the U test ever to reach p < alpha: how many per rung would. */
  needed?: number;
  /** Rounds the paired ratio came from (interleaved runs). */
  rounds?: number;
}

/** Best only if measured, and its image judged against the fp32 reference and above the floor. */
const eligible = (r: RungResult, objective: Objective) =>
  r.status === 'ok' && !!ranked(r, objective)?.samples_s.length && !!r.quality && !r.quality.flagged;

export function bestRung(run: RunFile, objective: Objective = 'latency'): Best | undefined {
  const reference = run.rungs.find(
    (r) => r.id === run.ladder?.baseline && r.status === 'ok' && ranked(r, objective)?.samples_s.length,
  );
  if (!reference) return undefined;
  const of = (r: RungResult) => ranked(r, objective)!;
  // Interleaved: ranked by the paired ratio over the reference, not by medians of different moments.
  const paired = objective === 'latency' && interleaved(run);
  const cost = (r: RungResult) =>
    !paired ? of(r).median_s : r === reference ? 1 : 1 / (r.paired?.vs_baseline?.ratio ?? 0);
  const best = run.rungs.filter((r) => r === reference || eligible(r, objective)).sort((a, b) => cost(a) - cost(b))[0];
  if (!best || best === reference)
    return best ? { objective, rung: best, reference, speedup: 1, verdict: 'reference', p: 1 } : undefined;
  // Interleaved: the paired ratio over the rounds, judged by its interval (the passes of two rungs
  // measured at different moments are no fair two-sample test on a drifting machine).
  const p = objective === 'latency' ? best.paired?.vs_baseline : undefined;
  if (p)
    return {
      objective,
      rung: best,
      reference,
      speedup: p.ratio,
      ci: { ci: p.ci, level: p.level },
      verdict: p.ci[0] > 1 ? 'faster' : 'unchanged',
      rounds: p.rounds,
    };
  const x = of(best).samples_s;
  const y = of(reference).samples_s;
  const j = judgeSamples(x, y, BEST_TEST);
  return {
    objective,
    rung: best,
    reference,
    speedup: of(reference).median_s / of(best).median_s,
    ci: ratioCI(x, y),
    verdict: j.verdict,
    p: j.test.p,
    passes: [x.length, y.length],
    needed: minPValue(x.length, y.length) >= BEST_TEST.alpha ? passesForSignificance(BEST_TEST.alpha) : undefined,
  };
}
