// Summary statistics of a rung's timed passes. Robust, distribution-free figures (median, its
// order-statistic confidence interval, MAD outliers): pass times are skewed and have slow outliers.

export interface Stats {
  n: number;
  median_s: number;
  mean_s: number;
  stdev_s: number;
  min_s: number;
  max_s: number;
  /** 90th percentile (linear interpolation, as numpy's default). */
  p90_s: number;
  /**
   * Distribution-free confidence interval of the median: [x_(j), x_(n+1-j)] from the sorted passes,
   * with the largest j whose binomial coverage P(j <= Bin(n, 1/2) <= n-j) is still >= 95%.
   * Below n = 6 no pair of order statistics reaches 95%: the interval is then [min, max] and
   * `ci95_level` says what it really covers (1 - 2^(1-n): 0.5 for n=2, 0.75 for n=3, 0.875 for n=4,
   * 0.9375 for n=5; 0 for a single pass).
   */
  ci95_median_s: [number, number];
  /** The exact coverage of `ci95_median_s` (>= 0.95 from n = 6 on, e.g. 0.9785 for n = 10). */
  ci95_level: number;
  /** Width of `ci95_median_s` over the median (0.1: the interval spans 10% of the median). */
  rel_spread: number;
  /**
   * Indices (into the samples as given, i.e. pass order) whose modified z-score
   * 0.6745 * |x - median| / MAD exceeds 3.5 (Iglewicz & Hoaglin, as hyperfine). Flagged, never
   * dropped: every figure above includes them. None when MAD = 0.
   */
  outliers: number[];
}

/** Modified z-scores above this are outliers (Iglewicz & Hoaglin; hyperfine uses the same). */
export const OUTLIER_Z = 3.5;
export const CI_LEVEL = 0.95;

export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** The median of unsorted values (NaN for none). */
export function median(xs: readonly number[]): number {
  return quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
}

/** P(Bin(n, 1/2) = k) for k = 0..n, through log binomial coefficients (no overflow for large n). */
function binomialHalf(n: number): number[] {
  const pmf: number[] = [];
  let lnC = 0;
  for (let k = 0; k <= n; k++) {
    if (k > 0) lnC += Math.log(n - k + 1) - Math.log(k);
    pmf.push(Math.exp(lnC - n * Math.LN2));
  }
  return pmf;
}

/**
 * The narrowest symmetric pair of order statistics [x_(j), x_(n+1-j)] (1-based) covering the median
 * with probability >= `level`, and its exact coverage 1 - 2 P(Bin(n, 1/2) < j). When even j = 1
 * falls short (n < 6 at 95%), [min, max] with its lower coverage.
 */
export function medianCI(sorted: number[], level = CI_LEVEL): { ci: [number, number]; level: number } {
  const n = sorted.length;
  if (!n) return { ci: [Number.NaN, Number.NaN], level: Number.NaN };
  const pmf = binomialHalf(n);
  let j = 1;
  let tail = pmf[0]!; // P(B < j)
  // Move inwards while the next pair is still a proper interval and still reaches the level.
  while (2 * (j + 1) <= n && 1 - 2 * (tail + pmf[j]!) >= level) {
    tail += pmf[j]!;
    j++;
  }
  return { ci: [sorted[j - 1]!, sorted[n - j]!], level: Math.max(0, 1 - 2 * tail) };
}

/** Indices of the samples whose modified z-score exceeds OUTLIER_Z; none when MAD is 0. */
export function outlierIndices(samples: number[]): number[] {
  const med = quantile(
    [...samples].sort((a, b) => a - b),
    0.5,
  );
  const mad = quantile(
    samples.map((x) => Math.abs(x - med)).sort((a, b) => a - b),
    0.5,
  );
  if (!(mad > 0)) return [];
  return samples.flatMap((x, i) => (Math.abs((0.6745 * (x - med)) / mad) > OUTLIER_Z ? [i] : []));
}

export function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  // Sample standard deviation (n - 1): the passes are a sample of the rung's latency.
  const variance = n > 1 ? sorted.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) : 0;
  const median = quantile(sorted, 0.5);
  const { ci, level } = medianCI(sorted);
  return {
    n,
    median_s: median,
    mean_s: mean,
    stdev_s: Math.sqrt(variance),
    min_s: sorted[0] ?? Number.NaN,
    max_s: sorted[n - 1] ?? Number.NaN,
    p90_s: quantile(sorted, 0.9),
    ci95_median_s: ci,
    ci95_level: level,
    rel_spread: (ci[1] - ci[0]) / median,
    outliers: outlierIndices(samples),
  };
}

const pct = (x: number) => `${x >= 0.1 ? (x * 100).toFixed(0) : (x * 100).toFixed(1)}%`;

/**
 * A short warning when a rung's figure should not be trusted: the confidence interval of its median
 * is wider than `maxRelSpread` of the median (compared with `rel_spread`, the full width; the
 * message gives the half width as ±), or some passes are outliers. Undefined when all is well.
 */
export function spreadWarning(s: Stats, maxRelSpread = 0.1): string | undefined {
  if (s.n === 0) return 'no passes';
  if (s.n === 1) return 'a single pass: no spread estimate (n=1)';
  const parts: string[] = [];
  // maxRelSpread bounds the half-width (the ± shown), relative to the median.
  if (!(s.rel_spread / 2 <= maxRelSpread)) {
    const level = s.ci95_level >= CI_LEVEL ? '95%' : `${(s.ci95_level * 100).toFixed(1).replace(/\.0$/, '')}%`;
    const few = s.ci95_level < CI_LEVEL ? '; too few passes for a 95% CI' : '';
    parts.push(`spread too wide to trust: ${level} CI of the median is ±${pct(s.rel_spread / 2)} (n=${s.n}${few})`);
  }
  const out = s.outliers ?? [];
  if (out.length) {
    const which = out.map((i) => `#${i + 1}`).join(', ');
    parts.push(
      `${out.length} outlying pass${out.length > 1 ? 'es' : ''} of ${s.n} (${which}; modified z-score > ${OUTLIER_Z})`,
    );
  }
  return parts.length ? parts.join('; ') : undefined;
}
