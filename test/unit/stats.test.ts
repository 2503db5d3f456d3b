import { describe, expect, it } from 'vitest';
import { quantile, stats } from '../../src/results/stats.ts';

describe('stats', () => {
  it('computes median, mean, sample stdev, min and max', () => {
    const s = stats([3, 1, 2, 4]);
    expect(s).toMatchObject({ n: 4, median_s: 2.5, mean_s: 2.5, min_s: 1, max_s: 4 });
    expect(s.stdev_s).toBeCloseTo(Math.sqrt(5 / 3), 12);
  });
  it('handles one sample', () => {
    expect(stats([0.5])).toMatchObject({ n: 1, median_s: 0.5, stdev_s: 0 });
  });
  it('interpolates quantiles', () => {
    expect(quantile([1, 2, 3, 4, 5], 0.9)).toBeCloseTo(4.6, 12);
  });
});
