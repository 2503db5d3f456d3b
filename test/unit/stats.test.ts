import { describe, expect, it } from 'vitest';
import { medianCI, outlierIndices, quantile, spreadWarning, stats } from '../../src/results/stats.ts';

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('stats', () => {
  it('computes median, mean, sample stdev, min and max', () => {
    const s = stats([3, 1, 2, 4]);
    expect(s).toMatchObject({ n: 4, median_s: 2.5, mean_s: 2.5, min_s: 1, max_s: 4 });
    expect(s.stdev_s).toBeCloseTo(Math.sqrt(5 / 3), 12);
  });
  it('handles one sample', () => {
    expect(stats([0.5])).toMatchObject({
      n: 1,
      median_s: 0.5,
      stdev_s: 0,
      p90_s: 0.5,
      ci95_median_s: [0.5, 0.5],
      ci95_level: 0,
      rel_spread: 0,
      outliers: [],
    });
  });
  it('interpolates quantiles', () => {
    expect(quantile([1, 2, 3, 4, 5], 0.9)).toBeCloseTo(4.6, 12);
  });
  it('gives p90 by linear interpolation, as numpy', () => {
    // pos = 9 * 0.9 = 8.1 between 9 and 10
    expect(stats(range(1, 10).reverse()).p90_s).toBeCloseTo(9.1, 12);
  });
  it('keeps the run.json fields and adds the new ones', () => {
    expect(Object.keys(stats([1, 2, 3]))).toEqual([
      'n',
      'median_s',
      'mean_s',
      'stdev_s',
      'min_s',
      'max_s',
      'p90_s',
      'ci95_median_s',
      'ci95_level',
      'rel_spread',
      'outliers',
    ]);
  });
});

describe('confidence interval of the median (order statistics)', () => {
  // Coverage of [x_(j), x_(n+1-j)] is 1 - 2 P(Bin(n, 1/2) <= j-1).
  it('n=10: [x(2), x(9)], 1 - 2(1+10)/1024', () => {
    const s = stats([7, 3, 10, 1, 5, 9, 2, 8, 4, 6]);
    expect(s.ci95_median_s).toEqual([2, 9]);
    expect(s.ci95_level).toBe(1 - 22 / 1024); // 0.978515625; j=3 would give 1 - 112/1024 = 0.89
    expect(s.rel_spread).toBeCloseTo(7 / 5.5, 12);
  });
  it('n=20: [x(6), x(15)], 1 - 2 * 21700/2^20', () => {
    // sum C(20, i) for i = 0..5 = 1 + 20 + 190 + 1140 + 4845 + 15504 = 21700; i = 6 adds 38760 (-> 0.885)
    const { ci, level } = medianCI(range(1, 20));
    expect(ci).toEqual([6, 15]);
    expect(level).toBeCloseTo(1 - 43400 / 1048576, 14);
  });
  it('n=6 is the first size that reaches 95% with [min, max]: 1 - 2/64', () => {
    expect(medianCI(range(1, 6))).toEqual({ ci: [1, 6], level: 0.96875 });
  });
  it('below n=6 returns [min, max] and the coverage it really has', () => {
    expect(medianCI(range(1, 5))).toEqual({ ci: [1, 5], level: 0.9375 });
    expect(medianCI(range(1, 4))).toEqual({ ci: [1, 4], level: 0.875 });
    expect(medianCI([3, 1, 2].sort())).toEqual({ ci: [1, 3], level: 0.75 }); // P(1 <= B <= 2) = 6/8
    expect(medianCI([1, 2])).toEqual({ ci: [1, 2], level: 0.5 });
    expect(medianCI([4])).toEqual({ ci: [4, 4], level: 0 });
  });
  it('stays finite for large n', () => {
    const { ci, level } = medianCI(range(1, 2000));
    expect(level).toBeGreaterThanOrEqual(0.95);
    expect(level).toBeLessThan(0.96);
    // normal approximation: j ~ n/2 - 1.96 sqrt(n)/2 ~ 956
    expect(ci[0]).toBeGreaterThan(950);
    expect(ci[1]).toBe(2001 - ci[0]);
  });
});

describe('outliers (modified z-score > 3.5)', () => {
  it('flags a slow pass by its index in pass order, and keeps it in every figure', () => {
    // median 5.5; |x - 5.5| sorted: .5 .5 1.5 1.5 2.5 2.5 3.5 3.5 4.5 14.5 -> MAD 2.5;
    // z(20) = 0.6745 * 14.5 / 2.5 = 3.912 > 3.5; z(1) = 0.6745 * 4.5 / 2.5 = 1.214
    const samples = [20, ...range(1, 9)];
    const s = stats(samples);
    expect(s.outliers).toEqual([0]);
    expect(s.n).toBe(10);
    expect(s.max_s).toBe(20);
  });
  it('does not flag just below the threshold', () => {
    // z(18) = 0.6745 * 12.5 / 2.5 = 3.3725
    expect(outlierIndices([...range(1, 9), 18])).toEqual([]);
  });
  it('flags fast outliers too', () => {
    // median 100; deviations 0 0 1 1 1 1 90 -> MAD 1 (sorted: 0,0,1,1,1,1,90 -> 1)
    expect(outlierIndices([100, 101, 99, 100, 101, 99, 10])).toEqual([6]);
  });
  it('flags nothing when MAD is 0', () => {
    expect(outlierIndices([5, 5, 5, 5, 9])).toEqual([]);
  });
});

describe('spreadWarning', () => {
  it('is silent for a tight run', () => {
    // n=10: CI [x(2), x(9)] = [9.9, 10.1], width 0.2 / median 10 = 2%
    expect(spreadWarning(stats([9.8, 9.9, 9.95, 10, 10, 10, 10, 10.05, 10.1, 10.2]))).toBeUndefined();
  });
  it('warns when the 95% CI is wider than 10% of the median', () => {
    // n=10 CI [x(2), x(9)] = [9, 11.4], median 10: width 24% -> ±12%
    const s = stats([8, 9, 9.5, 9.8, 10, 10, 10.5, 11, 11.4, 12]);
    expect(s.rel_spread).toBeCloseTo(0.24, 12);
    expect(spreadWarning(s)).toBe('spread too wide to trust: 95% CI of the median is ±12% (n=10)');
    expect(spreadWarning(s, 0.25)).toBeUndefined();
  });
  it('names the real coverage when there are too few passes for 95%', () => {
    // [min, max] = [9, 11.2], median 10: 22% wide, ±11%, and it covers 75% only
    expect(spreadWarning(stats([9, 10, 11.2]))).toBe(
      'spread too wide to trust: 75% CI of the median is ±11% (n=3; too few passes for a 95% CI)',
    );
    expect(spreadWarning(stats([9.9, 10, 10.05]))).toBeUndefined();
  });
  it('reports outliers, 1-based as the run log numbers passes', () => {
    // median 10, MAD 0.075 (deviations 0 0 0 .05 .05 .1 .1 .1 .1 20); z(30) = 0.6745 * 20 / 0.075 = 180;
    // the CI [x(2), x(9)] = [9.9, 10.1] is only 2% wide
    expect(spreadWarning(stats([10, 10.1, 9.9, 10, 10.05, 9.95, 10, 10.1, 9.9, 30]))).toBe(
      '1 outlying pass of 10 (#10; modified z-score > 3.5)',
    );
  });
  it('joins both problems', () => {
    // n=5: [min, max] = [1, 100], median 3: z(100) = 0.6745 * 97 / 1 = 65
    expect(spreadWarning(stats([1, 2, 3, 4, 100]))).toBe(
      'spread too wide to trust: 93.8% CI of the median is ±1650% (n=5; too few passes for a 95% CI); 1 outlying pass of 5 (#5; modified z-score > 3.5)',
    );
  });
  it('cannot say anything about one pass', () => {
    expect(spreadWarning(stats([1]))).toBe('a single pass: no spread estimate (n=1)');
    expect(spreadWarning(stats([]))).toBe('no passes');
  });
});
