// Throughput of a rung: images per second of all its instances together. Instances start their
// passes at slightly different times, so the figure is taken over the common window, from the
// latest first start to the earliest last end, in which every instance was running passes. A pass
// that straddles an edge counts by the share of it inside the window. Pure, so it is unit-tested.

/** A pass's [start, end] in seconds on CLOCK_MONOTONIC, which all processes of a machine share. */
export type Window = [number, number];

export interface Throughput {
  /** Worker instances measured at once, each pinned to its own cores. */
  instances: number;
  /** Images per second of all instances together, over the common window. */
  images_per_s: number;
  /** Seconds of the common window. */
  window_s: number;
  /** Images finished in the common window (fractional: edge passes count by their share inside it). */
  images: number;
  /**
   * Per round of passes (the j-th pass of every instance), seconds per image of all instances
   * together: 1 / sum_i(1 / t_ij). The samples a significance test of throughput compares.
   */
  pass_s_per_image: number[];
}

/** Throughput over the common window; undefined when the instances never all ran at the same time. */
export function throughput(windows: Window[][]): Throughput | undefined {
  const used = windows.filter((w) => w.length > 0);
  if (!used.length || used.length !== windows.length) return undefined;
  const start = Math.max(...used.map((w) => w[0]![0]));
  const end = Math.min(...used.map((w) => w[w.length - 1]![1]));
  const span = end - start;
  if (!(span > 0)) return undefined;
  let images = 0;
  for (const w of used)
    for (const [a, b] of w) {
      const inside = Math.min(b, end) - Math.max(a, start);
      if (inside > 0 && b > a) images += inside / (b - a);
    }
  const rounds = Math.min(...used.map((w) => w.length));
  const pass_s_per_image = Array.from({ length: rounds }, (_, j) => {
    const rate = used.reduce((s, w) => s + 1 / (w[j]![1] - w[j]![0]), 0);
    return 1 / rate;
  });
  return { instances: used.length, images_per_s: images / span, window_s: span, images, pass_s_per_image };
}

/** Instances whose cores overlap, as lines for a toggle problem (empty: all disjoint). */
export function overlappingCores(affinities: number[][]): string[] {
  const problems: string[] = [];
  for (let i = 0; i < affinities.length; i++)
    for (let j = i + 1; j < affinities.length; j++) {
      const shared = affinities[i]!.filter((c) => affinities[j]!.includes(c));
      if (shared.length)
        problems.push(`instances: ${i} and ${j} share cores ${shared.join(',')} (each needs its own cores)`);
    }
  return problems;
}
