export interface Stats {
  n: number;
  median_s: number;
  mean_s: number;
  stdev_s: number;
  min_s: number;
  max_s: number;
}

export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  // Sample standard deviation (n - 1): the passes are a sample of the rung's latency.
  const variance = n > 1 ? sorted.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) : 0;
  return {
    n,
    median_s: quantile(sorted, 0.5),
    mean_s: mean,
    stdev_s: Math.sqrt(variance),
    min_s: sorted[0] ?? Number.NaN,
    max_s: sorted[n - 1] ?? Number.NaN,
  };
}
