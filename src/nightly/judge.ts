// Judges a night against the recent history of the same machine, scenario and model (asv's way):
// a significance test on the passes plus a minimum change, against the pooled passes of the last
// nights; the minimum change grows with the spread between nights, so one noisy night does not raise
// an alarm; and a drift check against the older nights, so a slow drift does.
import type { NightVerdict, RunFile, RungResult, RungVerdict, VersionChange } from '../results/run-file.ts';
import { judgeSamples } from '../results/significance.ts';
import { stats } from '../results/stats.ts';

export type { NightVerdict, RungVerdict, VersionChange };

export interface JudgeOptions {
  alpha: number;
  factor: number;
  /** How many earlier nights make the reference. */
  window: number;
  /**
   * Fewest earlier nights a verdict rests on: one earlier night cannot tell a step from the luck of a
   * worker process (each lands at its own level), so with fewer a change is "insufficient".
   */
  minNights: number;
}

export const DEFAULT_JUDGE: JudgeOptions = { alpha: 0.05, factor: 0.1, window: 5, minNights: 3 };

const sameSetup = (a: RunFile, b: RunFile, id: string) => {
  const ca = a.rungs.find((r) => r.id === id)?.config as { model?: unknown; scenario?: unknown } | undefined;
  const cb = b.rungs.find((r) => r.id === id)?.config as { model?: unknown; scenario?: unknown } | undefined;
  return JSON.stringify([ca?.model, ca?.scenario]) === JSON.stringify([cb?.model, cb?.scenario]);
};

const NIGHT: Record<string, NightVerdict> = {
  slower: 'regressed',
  faster: 'improved',
  unchanged: 'unchanged',
  inconclusive: 'insufficient',
};

function test(
  current: number[],
  reference: number[],
  o: JudgeOptions,
  threshold: number,
): { ratio: number; p: number; verdict: NightVerdict } {
  const j = judgeSamples(current, reference, { alpha: o.alpha, factor: threshold });
  return { ratio: j.ratio, p: j.test.p, verdict: NIGHT[j.verdict]! };
}

/**
 * The change a night must exceed. Passes of one night share a process, so the U test alone overstates
 * significance: each worker process lands at its own level, and nights differ by that much with no
 * change at all. So a night must also fall outside the prediction interval of the earlier nights'
 * medians: the spread of their logarithms (up to SPREAD_NIGHTS of them, from successive differences),
 * widened by Student's t at
 * p = 0.001 so a spread estimated from few nights is not trusted more than it deserves. With fewer
 * than 5 nights there is no estimate, and twice the factor is asked. Seeded histories
 * (test/unit/judge.test.ts) give the false-alarm and detection figures.
 */
export const MIN_NIGHTS_FOR_SPREAD = 5;
export const SPREAD_NIGHTS = 30;

// Two-sided 0.1% quantiles of Student's t by degrees of freedom (interpolated in 1/df).
const T_999: [number, number][] = [
  [4, 8.61],
  [5, 6.869],
  [6, 5.959],
  [7, 5.408],
  [8, 5.041],
  [9, 4.781],
  [10, 4.587],
  [12, 4.318],
  [15, 4.073],
  [20, 3.85],
  [25, 3.725],
  [30, 3.646],
  [40, 3.551],
  [60, 3.46],
  [120, 3.373],
  [Infinity, 3.291],
];

export function tQuantile999(df: number): number {
  if (df <= T_999[0]![0]) return T_999[0]![1];
  for (let i = 1; i < T_999.length; i++) {
    const [d1, t1] = T_999[i - 1]!;
    const [d2, t2] = T_999[i]!;
    if (df <= d2) {
      const w = (1 / d1 - 1 / df) / (1 / d1 - (d2 === Infinity ? 0 : 1 / d2));
      return t1 + w * (t2 - t1);
    }
  }
  return T_999.at(-1)![1];
}

export function threshold(nightMedians: number[], factor: number): number {
  const n = nightMedians.length;
  if (n < MIN_NIGHTS_FOR_SPREAD) return 2 * factor;
  // The spread from successive differences (von Neumann): a slow drift or an earlier step in the
  // history does not inflate it, as it would the plain standard deviation.
  const logs = nightMedians.map(Math.log);
  const sd = Math.sqrt(logs.slice(1).reduce((a, x, i) => a + (x - logs[i]!) ** 2, 0) / (2 * (n - 1)));
  return Math.max(factor, Math.exp(tQuantile999(n - 1) * sd * Math.sqrt(1 + 1 / n)) - 1);
}

/** How much the machine's own matrix-product rate moved during the run (largest over the dtypes). */
export function machineMoved(run: RunFile): number {
  return Math.max(0, ...Object.values(run.machine_probe?.moved ?? {}).map(Math.abs));
}

/** The rung `id` in the earlier nights that measured the same thing, successfully, on a machine that held still. */
function comparableNights(current: RunFile, history: RunFile[], id: string): RungResult[] {
  // A night on a machine that moved says nothing about the code: it is no reference either.
  return history
    .filter((h) => sameSetup(h, current, id) && h.nightly?.verdicts.find((v) => v.id === id)?.verdict !== 'unstable')
    .map((h) => h.rungs.find((x) => x.id === id && x.status === 'ok' && x.samples_s.length))
    .filter((x): x is RungResult => !!x);
}

/** The threshold a rung is judged by, from the spread of its recent nights' medians. */
const limitOf = (all: RungResult[], o: JudgeOptions) =>
  threshold(
    all.slice(-SPREAD_NIGHTS).map((x) => stats(x.samples_s).median_s),
    o.factor,
  );

/** One rung's verdict against the pooled passes of its recent nights (and the older ones, for drift). */
function judgeRung(r: RungResult, all: RungResult[], o: JudgeOptions): RungVerdict & { limit?: number } {
  const past = all.slice(-o.window);
  const pooled = past.flatMap((x) => x.samples_s);
  const limit = limitOf(all, o);
  const against = `against ${past.length} night(s), ${pooled.length} passes; threshold ±${(100 * limit).toFixed(0)}%`;
  const recent = test(r.samples_s, pooled, o, limit);
  if (recent.verdict !== 'unchanged') return { id: r.id, ...recent, limit, detail: against };
  // Drift: each night within the threshold of the last ones, but far from the older half of the window.
  if (past.length >= 4) {
    const older = past.slice(0, Math.floor(past.length / 2)).flatMap((x) => x.samples_s);
    const drift = test(r.samples_s, older, o, limit);
    if (drift.verdict === 'regressed') {
      const detail = `slow drift against the ${Math.floor(past.length / 2)} oldest night(s) of the window; threshold ±${(100 * limit).toFixed(0)}%`;
      return { id: r.id, ...drift, limit, detail };
    }
  }
  if (recent.p >= o.alpha && Math.abs(Math.log(recent.ratio)) > Math.log(1 + limit)) {
    const detail = `beyond the threshold but not significant (${r.samples_s.length} vs ${pooled.length} passes)`;
    return { id: r.id, ...recent, limit, verdict: 'insufficient', detail };
  }
  return { id: r.id, ...recent, limit, detail: against };
}

/**
 * A rung's time relative to the night's reference, per round (1 / the paired ratio of each round; a
 * night of one round gives its one ratio): larger is slower, as a time is.
 */
function relativeTimes(r: RungResult): number[] {
  const p = r.paired?.vs_baseline;
  if (p) return p.per_round.map((x) => 1 / x);
  return r.speedup_vs_baseline ? [1 / r.speedup_vs_baseline] : [];
}

/**
 * Judges each rung twice: by its own time against the earlier nights (a regression of the reference
 * itself, or of everything at once, must still be caught), and, in a night of interleaved rounds, by
 * its paired ratio to the night's reference against the earlier nights' ratios, where the machine's
 * drift cancels. A rung with a ratio is judged by it (`by: 'ratio'`), its own time said in the
 * detail; the reference, and a rung without one, by its own time (`by: 'time'`).
 */
export function judge(current: RunFile, history: RunFile[], o: JudgeOptions = DEFAULT_JUDGE): RungVerdict[] {
  const moved = machineMoved(current);
  const base = current.ladder?.baseline;
  // A rung skipped on this machine (its backend cannot run here) has nothing to judge.
  return current.rungs
    .filter((r) => r.status !== 'skipped')
    .map((r: RungResult): RungVerdict => {
      if (r.status !== 'ok' || !r.samples_s.length) return { id: r.id, verdict: 'failed', detail: r.error };
      const past = comparableNights(current, history, r.id);
      if (!past.length)
        return { id: r.id, verdict: 'new', detail: 'no earlier night with the same scenario and model' };
      const own = byOwnTime(r, past, moved, o);
      if (r.id === base || !r.paired?.vs_baseline) return own;
      // Earlier nights' ratios to the same reference (a night of one round: its ratio of medians).
      const ratios = past.map((x) => relativeTimes(x)).filter((x) => x.length);
      if (!ratios.length) return own;
      const pseudo = (xs: number[]) => ({ samples_s: xs }) as RungResult;
      const { limit, ...v } = judgeRung({ ...r, samples_s: relativeTimes(r) }, ratios.map(pseudo), o);
      const mine = `own time ${own.verdict}${own.ratio !== undefined ? ` ${own.ratio.toFixed(2)}x` : ''}`;
      const detail = `by its ratio to ${base} (the machine's drift cancels): ${v.detail}; ${mine}`;
      if ((v.verdict === 'regressed' || v.verdict === 'improved') && ratios.length < o.minNights)
        return {
          ...v,
          by: 'ratio',
          verdict: 'insufficient',
          detail: `would be ${v.verdict} ${v.ratio!.toFixed(2)}x by its ratio to ${base}, but ${ratios.length} earlier night(s) cannot tell a step from one process's luck (--min-nights ${o.minNights}); ${mine}`,
        };
      return { ...v, by: 'ratio', detail };
    });
}

/** A rung's verdict by its own time against its earlier nights. */
function byOwnTime(r: RungResult, past: RungResult[], moved: number, o: JudgeOptions): RungVerdict {
  const { limit, ...v } = judgeRung(r, past, o);
  if (v.verdict !== 'regressed' && v.verdict !== 'improved') return { ...v, by: 'time' };
  const would = `${v.verdict} ${v.ratio!.toFixed(2)}x`;
  // The machine itself moved as much as the change: the night says nothing about the code.
  if (moved > limit!) {
    return {
      ...v,
      by: 'time',
      verdict: 'unstable',
      detail: `would be ${would}, but the machine itself moved ${(100 * moved).toFixed(0)}% during the run (threshold ±${(100 * limit!).toFixed(0)}%)`,
    };
  }
  if (past.length < o.minNights) {
    return {
      ...v,
      by: 'time',
      verdict: 'insufficient',
      detail: `would be ${would}, but ${past.length} earlier night(s) cannot tell a step from one process's luck (--min-nights ${o.minNights})`,
    };
  }
  return { ...v, by: 'time' };
}

/**
 * Names, beside each regressed or improved rung, the version changes of its own environment: the
 * first suspect when a night moves. `topLevel(env)`: that stack's own requirements, listed first.
 */
export function attributeChanges(
  verdicts: RungVerdict[],
  run: RunFile,
  changes: VersionChange[],
  topLevel: (env: string) => string[],
): RungVerdict[] {
  return verdicts.map((v) => {
    if (v.verdict !== 'regressed' && v.verdict !== 'improved') return v;
    const env = (run.rungs.find((r) => r.id === v.id)?.config as { env?: string } | undefined)?.env;
    const mine = changes.filter((c) => c.env === env);
    if (!env || !mine.length) return v;
    // PEP 503 names: requirements may say huggingface-hub where pip freeze says huggingface_hub.
    const norm = (p: string) => p.toLowerCase().replace(/[-_.]+/g, '-');
    const top = new Set(topLevel(env).map(norm));
    const rank = (c: VersionChange) => (top.has(norm(c.package)) ? 0 : 1);
    const versions = [...mine]
      .sort((a, b) => rank(a) - rank(b) || a.package.localeCompare(b.package))
      .map((c) => `${c.package} ${c.from ?? '(none)'} -> ${c.to ?? '(removed)'}`);
    return { ...v, versions };
  });
}

/** One verdict as a line: "openvino-static regressed 1.31x; openvino 2026.4.1 -> 2026.5.0". */
export function verdictLine(v: RungVerdict, maxVersions = 3): string {
  const ratio = v.ratio !== undefined && Number.isFinite(v.ratio) ? ` ${v.ratio.toFixed(2)}x` : '';
  const shown = (v.versions ?? []).slice(0, maxVersions);
  const more = (v.versions?.length ?? 0) - shown.length;
  const versions = shown.length ? `; ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}` : '';
  return `${v.id} ${v.verdict}${ratio}${versions}`;
}

/** Packages whose version changed in any environment since the previous night. */
export function versionChanges(previous: RunFile | undefined, current: RunFile): VersionChange[] {
  if (!previous?.environments || !current.environments) return [];
  const out: VersionChange[] = [];
  for (const [env, now] of Object.entries(current.environments)) {
    const before = previous.environments[env]?.packages;
    if (!before) continue;
    for (const pkg of new Set([...Object.keys(before), ...Object.keys(now.packages)])) {
      if (before[pkg] !== now.packages[pkg]) out.push({ env, package: pkg, from: before[pkg], to: now.packages[pkg] });
    }
  }
  return out;
}

/** The band a night's own time had to leave to count as a change: the judge's reference ± its threshold. */
export interface ThresholdBand {
  started: string;
  lo_s: number;
  hi_s: number;
  /** The threshold, as a fraction (0.2: ±20%). */
  limit: number;
}

/**
 * Per rung, the judge's threshold band of each night (trend.html draws it): the median of the pooled
 * passes of its last `window` earlier nights, times and divided by 1 + the threshold, as judgeRung
 * takes them (same setup, no unstable night). A night without an earlier one has no band.
 */
export function thresholdBands(nights: RunFile[], o: JudgeOptions = DEFAULT_JUDGE): Record<string, ThresholdBand[]> {
  const out: Record<string, ThresholdBand[]> = {};
  nights.forEach((night, i) => {
    for (const r of night.rungs) {
      if (r.status !== 'ok' || !r.samples_s.length) continue;
      const all = comparableNights(night, nights.slice(0, i), r.id);
      if (!all.length) continue;
      const ref = stats(all.slice(-o.window).flatMap((x) => x.samples_s)).median_s;
      const limit = limitOf(all, o);
      const band = { started: night.started, lo_s: ref / (1 + limit), hi_s: ref * (1 + limit), limit };
      out[r.id] = [...(out[r.id] ?? []), band];
    }
  });
  return out;
}
