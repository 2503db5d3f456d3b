// Paired ratios over interleaved rounds. In each round every rung ran once, close in time to the
// others, so the ratio of two rungs within one round carries little of the machine's drift; the
// rounds then give the ratio's uncertainty from where the variance really lives (between processes
// and between moments), not from the passes of one process.
import { median, quantile } from './stats.ts';

/** One rung's share of one round: its passes in that round's worker. */
export interface RoundSamples {
  round: number;
  samples_s: number[];
}

export interface PairedRatio {
  /** The rung the ratio is against (its speed over this rung's: > 1 means faster than it). */
  reference: string;
  /** Hodges-Lehmann estimate over the rounds of the per-round ratios (reference median / rung median). */
  ratio: number;
  /** Distribution-free interval of the ratio (Wilcoxon signed-rank on per-round log ratios). */
  ci: [number, number];
  /** The interval's exact coverage: 0.95 or more from 6 rounds on; fewer rounds cannot reach it. */
  level: number;
  /** Half-width of the interval relative to the ratio: max(hi / ratio - 1, 1 - lo / ratio). */
  half_width: number;
  /** Rounds in which both rungs were measured. */
  rounds: number;
  /** The ratio of each such round, in round order. */
  per_round: number[];
  /** The first round's ratio alone: what measuring the rungs once, one after the other, would have said. */
  sequential: number;
}

export const PAIRED_LEVEL = 0.95;
/** Up to this many rounds the signed-rank distribution is computed exactly; a normal one beyond. */
const EXACT_MAX_ROUNDS = 60;

/** Counts of the Wilcoxon signed-rank statistic T+ = 0 .. n(n+1)/2 over the 2^n sign patterns. */
export function signedRankCounts(n: number): number[] {
  let counts = [1];
  for (let k = 1; k <= n; k++) {
    const next = new Array<number>(counts.length + k).fill(0);
    for (const [t, c] of counts.entries()) {
      next[t]! += c;
      next[t + k]! += c;
    }
    counts = next;
  }
  return counts;
}

/**
 * Hodges-Lehmann estimate and distribution-free interval of the centre of `x` (paired log ratios):
 * the median of the n(n+1)/2 Walsh averages, and [W_(k), W_(N+1-k)] with the largest k whose tail
 * P(T+ <= k-1) stays within (1 - level) / 2. When even k = 1 falls short (n < 6 at 95%), the
 * interval is [min, max] of the Walsh averages and `level` says what it covers (1 - 2^(1-n)).
 */
export function hodgesLehmann(
  x: number[],
  level = PAIRED_LEVEL,
): { estimate: number; ci: [number, number]; level: number } {
  const n = x.length;
  const walsh: number[] = [];
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) walsh.push((x[i]! + x[j]!) / 2);
  walsh.sort((a, b) => a - b);
  const N = walsh.length;
  if (!N) return { estimate: Number.NaN, ci: [Number.NaN, Number.NaN], level: 0 };
  let k = 1;
  let coverage: number;
  if (n <= EXACT_MAX_ROUNDS) {
    const counts = signedRankCounts(n);
    const total = 2 ** n;
    let tail = counts[0]!; // P(T+ <= k-1) * total
    while (2 * (k + 1) <= N && tail + counts[k]! <= ((1 - level) / 2) * total) tail += counts[k++]!;
    coverage = 1 - (2 * tail) / total;
  } else {
    const z = 1.959963984540054; // the normal approximation is used only at 95%, far beyond n = 6
    k = Math.max(1, Math.floor(N / 2 - z * Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24)));
    coverage = level;
  }
  return { estimate: quantile(walsh, 0.5), ci: [walsh[k - 1]!, walsh[N - k]!], level: n === 1 ? 0 : coverage };
}

/**
 * The speedup of `rung` over `reference` from the rounds in which both ran: per round, the ratio of
 * their medians; over the rounds, Hodges-Lehmann on the log ratios. Undefined when they never ran in
 * the same round.
 */
export function pairedRatio(
  referenceId: string,
  reference: RoundSamples[],
  rung: RoundSamples[],
): PairedRatio | undefined {
  const byRound = new Map(reference.filter((r) => r.samples_s.length).map((r) => [r.round, r.samples_s]));
  const perRound = rung
    .filter((r) => r.samples_s.length && byRound.has(r.round))
    .sort((a, b) => a.round - b.round)
    .map((r) => median(byRound.get(r.round)!) / median(r.samples_s));
  if (!perRound.length) return undefined;
  const hl = hodgesLehmann(perRound.map(Math.log));
  const ratio = Math.exp(hl.estimate);
  const ci: [number, number] = [Math.exp(hl.ci[0]), Math.exp(hl.ci[1])];
  return {
    reference: referenceId,
    ratio,
    ci,
    level: hl.level,
    half_width: Math.max(ci[1] / ratio - 1, 1 - ci[0] / ratio),
    rounds: perRound.length,
    per_round: perRound,
    sequential: perRound[0]!,
  };
}

/** Whether a ratio is as precise as asked: a 95% interval no wider than ±precision. */
export function precise(p: PairedRatio, precision: number): boolean {
  return p.level >= PAIRED_LEVEL && p.half_width <= precision;
}

/**
 * Why a ratio is still imprecise, in a few words: too few rounds for a 95% interval, two levels
 * (the per-round ratios fall into two groups far apart: a real bimodal level, which more rounds will
 * not narrow), or plain noise between rounds.
 */
export function whyImprecise(p: PairedRatio): string {
  if (p.level < PAIRED_LEVEL) return `${p.rounds} rounds cannot give a 95% interval (6 can)`;
  const logs = p.per_round.map(Math.log).sort((a, b) => a - b);
  let gap = 0;
  let at = 0;
  for (let i = 1; i < logs.length; i++) if (logs[i]! - logs[i - 1]! > gap) [gap, at] = [logs[i]! - logs[i - 1]!, i];
  const low = logs.slice(0, at);
  const high = logs.slice(at);
  const within = Math.max(low.at(-1)! - low[0]!, high.at(-1)! - high[0]!);
  // Two groups of at least 2 rounds each, further apart than either is wide: two levels.
  if (low.length >= 2 && high.length >= 2 && gap > 2 * within)
    return `bimodal: its rounds read ${Math.exp(median(low)).toFixed(2)}x (${low.length}) or ${Math.exp(median(high)).toFixed(2)}x (${high.length}), a real second level that more rounds will not narrow`;
  return `noisy: its rounds range ${Math.exp(logs[0]!).toFixed(2)}-${Math.exp(logs.at(-1)!).toFixed(2)}x (±${(100 * p.half_width).toFixed(1)}% after ${p.rounds} rounds)`;
}

/**
 * Rounds a ratio should need to reach ±precision, if its spread stays as it is (the half-width
 * shrinks as 1/sqrt(rounds)); at least 6 for a 95% interval.
 */
export function roundsNeeded(p: PairedRatio, precision: number): number {
  if (!(p.half_width > 0)) return Math.max(6, p.rounds);
  return Math.max(6, p.rounds, Math.ceil(p.rounds * (p.half_width / precision) ** 2));
}
