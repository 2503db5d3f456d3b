// Telling a real change from noise, once for every command that judges (compare, nightly, tune):
// a two-sided Mann-Whitney U test on the passes plus a minimum factor, as asv and benchstat do, and
// "inconclusive" when too few passes make significance unreachable.
import { median } from './stats.ts';

export interface MannWhitney {
  /** U of the first sample (scipy's U1): the number of pairs (x, y) with x > y, ties counting 1/2. */
  u: number;
  /** Two-sided p-value. */
  p: number;
  method: 'exact' | 'normal';
}

/** Largest sample size for the exact distribution (C(40, 20) ~ 1.4e11 counts stay exact in doubles). */
export const EXACT_MAX_N = 20;

/** Midranks (1-based) of `values`, and the sizes of the groups of ties. */
function midranks(values: number[]): { ranks: number[]; ties: number[] } {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  const ties: number[] = [];
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = rank;
    if (j > i) ties.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, ties };
}

/**
 * Number of arrangements of m x's and n y's with U = u, for u = 0..m*n (no ties), by the
 * recurrence c(m, n, u) = c(m-1, n, u-n) + c(m, n-1, u) (the last element is an x above all n y's,
 * or a y). Sums to C(m+n, m).
 */
export function uCounts(m: number, n: number): number[] {
  // row[j] = counts for (i, j) while sweeping i = 0..m.
  let row: number[][] = Array.from({ length: n + 1 }, () => [1]);
  for (let i = 1; i <= m; i++) {
    const next: number[][] = [[1]];
    for (let j = 1; j <= n; j++) {
      const c = new Array<number>(i * j + 1).fill(0);
      const up = row[j]!; // (i-1, j), shifted by j
      const left = next[j - 1]!; // (i, j-1)
      for (let u = 0; u < up.length; u++) c[u + j]! += up[u]!;
      for (let u = 0; u < left.length; u++) c[u]! += left[u]!;
      next.push(c);
    }
    row = next;
  }
  return row[n]!;
}

/** Upper tail of the standard normal, through erfc (series below 2, continued fraction above). */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) {
    // erf(x) = 2/sqrt(pi) * sum_k (-1)^k x^(2k+1) / (k! (2k+1))
    let term = x;
    let sum = x;
    for (let k = 1; k < 100; k++) {
      term *= (-x * x) / k;
      const add = term / (2 * k + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))), evaluated backwards.
  let t = x;
  for (let k = 80; k >= 1; k--) t = x + k / 2 / t;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / t;
}

/**
 * Two-sided Mann-Whitney U test. Exact distribution when there are no ties and both samples have
 * at most EXACT_MAX_N values; otherwise the normal approximation with tie correction and continuity
 * correction. Same results as scipy.stats.mannwhitneyu(x, y, method='exact' / 'asymptotic');
 * `method: 'normal'` forces the approximation.
 */
export function mannWhitneyU(x: number[], y: number[], method: 'auto' | 'normal' = 'auto'): MannWhitney {
  const n1 = x.length;
  const n2 = y.length;
  if (!n1 || !n2) return { u: Number.NaN, p: Number.NaN, method: 'exact' };
  const { ranks, ties } = midranks([...x, ...y]);
  const r1 = ranks.slice(0, n1).reduce((a, b) => a + b, 0);
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const big = Math.max(u1, n1 * n2 - u1);
  if (method === 'auto' && !ties.length && n1 <= EXACT_MAX_N && n2 <= EXACT_MAX_N) {
    const counts = uCounts(n1, n2);
    const total = counts.reduce((a, b) => a + b, 0);
    let upper = 0;
    for (let u = Math.round(big); u < counts.length; u++) upper += counts[u]!;
    return { u: u1, p: Math.min(1, (2 * upper) / total), method: 'exact' };
  }
  const n = n1 + n2;
  const tieTerm = ties.reduce((a, t) => a + t ** 3 - t, 0);
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  if (!(sd > 0)) return { u: u1, p: 1, method: 'normal' }; // every value tied: no evidence at all
  const z = (big - (n1 * n2) / 2 - 0.5) / sd;
  return { u: u1, p: Math.min(1, Math.max(0, 2 * normalSf(z))), method: 'normal' };
}

export function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
}

/** The smallest two-sided p-value the test can give with these sample sizes: 2 / C(n1+n2, n1). */
export function minPValue(n1: number, n2: number): number {
  return Math.min(1, 2 / binomial(n1 + n2, n1));
}

/**
 * The fewest passes per side (both sides alike) with which the U test can reach p < alpha at all:
 * the smallest n whose 2 / C(2n, n) is below alpha (alpha 0.05: 3 give 0.1, 4 give 0.029).
 */
export function passesForSignificance(alpha: number): number {
  if (!(alpha > 0)) return Number.POSITIVE_INFINITY;
  let n = 1;
  while (minPValue(n, n) >= alpha) n++;
  return n;
}

/** slower/faster: significant and beyond the factor; inconclusive: too few passes to tell. */
export type Verdict = 'slower' | 'faster' | 'unchanged' | 'inconclusive';

export interface CompareOptions {
  /** Significance level of the U test. */
  alpha: number;
  /** Smallest relative change that counts: slower if B/A > 1 + factor, faster if B/A < 1/(1 + factor). */
  factor: number;
}

export const DEFAULT_OPTIONS: CompareOptions = { alpha: 0.05, factor: 0.1 };

/**
 * asv/benchstat-style verdict: a change needs both significance (p < alpha) and size (beyond the
 * factor). When even the most extreme arrangement of n1 vs n2 passes could not reach p < alpha,
 * the answer is 'inconclusive' (and says why) rather than a silent 'unchanged'.
 */
export function verdictOf(
  ratio: number,
  p: number,
  n1: number,
  n2: number,
  o: CompareOptions = DEFAULT_OPTIONS,
): { verdict: Verdict; note?: string } {
  if (minPValue(n1, n2) >= o.alpha) {
    const big = ratio > 1 + o.factor || ratio < 1 / (1 + o.factor);
    const more = big
      ? ` (B/A ${fmtRatio(ratio)} is beyond the ${fmtFactor(o.factor)} factor: measure more passes)`
      : '';
    return { verdict: 'inconclusive', note: `too few samples for significance: n=${n1},${n2}${more}` };
  }
  if (p < o.alpha && ratio > 1 + o.factor) return { verdict: 'slower' };
  if (p < o.alpha && ratio < 1 / (1 + o.factor)) return { verdict: 'faster' };
  if (p < o.alpha && ratio !== 1)
    return { verdict: 'unchanged', note: `significant (p=${fmtP(p)}) but within the ${fmtFactor(o.factor)} factor` };
  return { verdict: 'unchanged' };
}

export function fmtP(p: number): string {
  if (!Number.isFinite(p)) return '–';
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}
export const fmtFactor = (f: number) => `±${+(f * 100).toFixed(2)}%`;
export const fmtRatio = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(3)}x`);

/** Ratio of medians (current / reference), the U test, and the verdict: one call for every judge. */
export function judgeSamples(
  current: number[],
  reference: number[],
  o: CompareOptions,
): { ratio: number; test: MannWhitney; verdict: Verdict; note?: string } {
  const ratio = median(current) / median(reference);
  const test = mannWhitneyU(reference, current);
  return { ratio, test, ...verdictOf(ratio, test.p, reference.length, current.length, o) };
}

/**
 * 95% distribution-free confidence interval of a speedup `reference / current` (Hodges–Lehmann on
 * the log scale, as for a shift in location): [d_(c), d_(mn+1-c)] of the m x n pairwise ratios d,
 * with the largest c whose tail P(U <= c-1) stays within 2.5%. Exact up to EXACT_MAX_N passes, normal
 * beyond. When too few passes reach 95%, c = 1 ([min, max] of the ratios) and `level` says what it
 * covers (1 - 2/C(m+n, m)).
 */
export function ratioCI(current: number[], reference: number[]): { ci: [number, number]; level: number } | undefined {
  const m = reference.length;
  const n = current.length;
  if (!m || !n) return undefined;
  const mn = m * n;
  let c = 1;
  let level = 0.95;
  if (m <= EXACT_MAX_N && n <= EXACT_MAX_N) {
    const counts = uCounts(m, n);
    const total = counts.reduce((a, b) => a + b, 0);
    let tail = counts[0]!; // P(U <= c-1) * total
    while (2 * (c + 1) <= mn && tail + counts[c]! <= 0.025 * total) tail += counts[c++]!;
    level = 1 - (2 * tail) / total;
  } else {
    c = Math.max(1, Math.floor(mn / 2 - 1.959963984540054 * Math.sqrt((mn * (m + n + 1)) / 12)));
  }
  return { ci: [kthRatio(reference, current, c), kthRatio(reference, current, mn + 1 - c)], level };
}

/** Beyond this many pairs the ratios are not all built and sorted (6,000 passes a side: 1.7 GB, 29 s). */
const SORTED_PAIRS_MAX = 250_000;

/**
 * The k-th smallest (1-based) of the m x n ratios r / c. Small: built and sorted. Large: found by
 * bisection on the value, counting the ratios at or below it in O(m + n) over the sorted samples,
 * so memory stays O(m + n) and time O((m + n) log) (the value is exact to double precision).
 */
export function kthRatio(reference: number[], current: number[], k: number): number {
  if (reference.length * current.length <= SORTED_PAIRS_MAX)
    return reference.flatMap((r) => current.map((c) => r / c)).sort((a, b) => a - b)[k - 1]!;
  const r = [...reference].sort((a, b) => a - b);
  const c = [...current].sort((a, b) => a - b);
  // Ratios r_i / c_j <= t  <=>  r_i <= t c_j: for growing c_j, the r_i that qualify only grow.
  const atOrBelow = (t: number) => {
    let count = 0;
    let i = 0;
    for (const cj of c) {
      while (i < r.length && r[i]! <= t * cj) i++;
      count += i;
    }
    return count;
  };
  let lo = r[0]! / c.at(-1)!; // the smallest ratio: count >= 1
  let hi = r.at(-1)! / c[0]!; // the largest: count = m n
  if (atOrBelow(lo) >= k) return lo;
  // Invariant: count(lo) < k <= count(hi).
  for (let step = 0; step < 200 && hi > lo; step++) {
    const mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break; // adjacent doubles
    if (atOrBelow(mid) >= k) hi = mid;
    else lo = mid;
  }
  return hi;
}
