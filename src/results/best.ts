// "Best on this machine": the fastest rung whose image held the quality floor, and how sure its
// speedup over the ladder's first rung (the reference, `openvino-static` in the beyond ladder) is.
import type { RunFile, RungResult } from './run-file.ts';
import { fmtP, judgeSamples, ratioCI } from './significance.ts';

export interface Best {
  rung: RungResult;
  reference: RungResult;
  /** Median of the reference over median of the rung. */
  speedup: number;
  /** Distribution-free CI of the speedup and the coverage it really has (below 95% for few passes). */
  ci?: { ci: [number, number]; level: number };
  verdict: string;
  p: number;
}

/** Best only if measured, and its image judged against the fp32 reference and above the floor. */
const eligible = (r: RungResult) =>
  r.status === 'ok' && !!r.stats && !!r.samples_s.length && !!r.quality && !r.quality.flagged;

export function bestRung(run: RunFile): Best | undefined {
  const reference = run.rungs.find((r) => r.id === run.ladder?.baseline && r.status === 'ok' && r.stats);
  if (!reference) return undefined;
  const best = run.rungs
    .filter((r) => r === reference || eligible(r))
    .sort((a, b) => a.stats!.median_s - b.stats!.median_s)[0];
  if (!best || best === reference)
    return best ? { rung: best, reference, speedup: 1, verdict: 'reference', p: 1 } : undefined;
  // A 5% factor: a smaller speedup is not worth a configuration change.
  const j = judgeSamples(best.samples_s, reference.samples_s, { alpha: 0.05, factor: 0.05 });
  return {
    rung: best,
    reference,
    speedup: reference.stats!.median_s / best.stats!.median_s,
    ci: ratioCI(best.samples_s, reference.samples_s),
    verdict: j.verdict + (j.note ? ` (${j.note})` : ''),
    p: j.test.p,
  };
}

/** One line for report.md and the console. */
export function bestLine(run: RunFile): string | undefined {
  const b = bestRung(run);
  if (!b) return undefined;
  const q = b.rung.quality;
  const psnr = q ? (q.psnr_db === null ? 'identical image' : `PSNR ${q.psnr_db.toFixed(1)} dB`) : 'its own reference';
  if (b.verdict === 'reference') {
    return `Best on this machine: ${b.rung.id}, the reference itself: no other rung above the quality floor was faster (${psnr}).`;
  }
  const ci = b.ci ? `, ${(100 * b.ci.level).toFixed(1)}% CI ${b.ci.ci[0].toFixed(2)}–${b.ci.ci[1].toFixed(2)}x` : '';
  return `Best on this machine: ${b.rung.id}, ${b.speedup.toFixed(2)}x over ${b.reference.id}${ci}; U test: ${b.verdict}, p=${fmtP(b.p)}; ${psnr}.`;
}
