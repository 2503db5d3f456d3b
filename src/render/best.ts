// The "Best on this machine" lines of report.md and the console, from results/best.ts's ranking.
import { BEST_TEST, type Best, bestRung, type Objective } from '../results/best.ts';
import type { RunFile } from '../results/run-file.ts';
import { fmtP, minPValue } from '../results/significance.ts';

/** An interleaved run's verdict: the paired ratio's interval, above 1 or not. */
function paired(b: Best): string {
  return `paired over ${b.rounds} rounds: ${b.verdict === 'faster' ? 'faster' : 'not shown faster, its interval reaches 1'}`;
}

/**
 * The U test's verdict in plain words, in the direction of the speedup shown (never the inverse
 * ratio), without brackets inside the line's own: it is read at the end of a run, once.
 */
function uTest(b: Best): string {
  const [n, m] = b.passes ?? [0, 0];
  const pct = `${+(BEST_TEST.factor * 100).toFixed(2)}%`;
  if (b.needed !== undefined) {
    const had = n === m ? `${n} passes per rung` : `${n} and ${m} passes`;
    return `not shown faster: with ${had} the U test cannot reach p < ${BEST_TEST.alpha}, whatever the times (its smallest p is ${fmtP(minPValue(n, m))}); ${b.needed} passes per rung can`;
  }
  const p = `p=${fmtP(b.p ?? Number.NaN)}`;
  if (b.verdict === 'faster') return `U test: faster, ${p}`;
  if (b.verdict === 'slower') return `U test: slower, ${p}`;
  if ((b.p ?? 1) < BEST_TEST.alpha) return `U test: ${p}, significant but under the ${pct} that counts as faster`;
  return `U test: not shown faster, ${p}`;
}

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
  const test = b.rounds !== undefined ? paired(b) : uTest(b);
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
