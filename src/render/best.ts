// The "Best on this machine" lines of report.md and the console, from results/best.ts's ranking.
import { type Best, bestRung, type Objective } from '../results/best.ts';
import type { RunFile } from '../results/run-file.ts';
import { fmtP } from '../results/significance.ts';

function line(b: Best): string {
  const q = b.rung.quality;
  const psnr = q ? (q.psnr_db === null ? 'identical image' : `PSNR ${q.psnr_db.toFixed(1)} dB`) : 'its own reference';
  const what = b.objective === 'throughput' ? 'Best throughput on this machine' : 'Best on this machine';
  if (b.verdict === 'reference') {
    return `${what}: ${b.rung.id}, the reference itself: no other rung above the quality floor was faster (${psnr}).`;
  }
  const ci = b.ci ? `, ${(100 * b.ci.level).toFixed(1)}% CI ${b.ci.ci[0].toFixed(2)}–${b.ci.ci[1].toFixed(2)}x` : '';
  const rates =
    b.objective === 'throughput'
      ? ` in images/s (${b.rung.throughput!.images_per_s.toPrecision(3)} against ${b.reference.throughput!.images_per_s.toPrecision(3)})`
      : '';
  const test =
    b.rounds !== undefined
      ? `paired over ${b.rounds} rounds: ${b.verdict}`
      : `U test: ${b.verdict}, p=${fmtP(b.p ?? Number.NaN)}`;
  return `${what}: ${b.rung.id}, ${b.speedup.toFixed(2)}x over ${b.reference.id}${rates}${ci}; ${test}; ${psnr}.`;
}

/**
 * Lines for report.md and the console: the latency best, and beside it the throughput best when some
 * rung ran several instances (latency per image alone would undersell them).
 */
export function bestLines(run: RunFile): string[] {
  const objectives: Objective[] = run.rungs.some((r) => r.status === 'ok' && (r.instances?.length ?? 1) > 1)
    ? ['latency', 'throughput']
    : ['latency'];
  return objectives.flatMap((o) => {
    const b = bestRung(run, o);
    return b ? [line(b)] : [];
  });
}
