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
}

export const DEFAULT_JUDGE: JudgeOptions = { alpha: 0.05, factor: 0.1, window: 5 };

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
 * significance: nights also differ among themselves (a fresh worker, page placement, boost). With 5
 * nights or more that spread is estimated (3 robust sigmas of the night medians); fewer nights say
 * too little about it (a 14% jump after 3 quiet nights was seen here), so twice the factor is asked.
 */
export const MIN_NIGHTS_FOR_SPREAD = 5;

export function threshold(nightMedians: number[], factor: number): number {
  if (nightMedians.length < MIN_NIGHTS_FOR_SPREAD) return 2 * factor;
  const center = stats(nightMedians).median_s;
  const mad = stats(nightMedians.map((m) => Math.abs(m - center))).median_s;
  return Math.max(factor, (3 * 1.4826 * mad) / center);
}

export function judge(current: RunFile, history: RunFile[], o: JudgeOptions = DEFAULT_JUDGE): RungVerdict[] {
  return current.rungs.map((r: RungResult): RungVerdict => {
    if (r.status !== 'ok' || !r.samples_s.length) return { id: r.id, verdict: 'failed', detail: r.error };
    // Only nights that measured the same thing, and measured it successfully.
    const past = history
      .filter((h) => sameSetup(h, current, r.id))
      .map((h) => h.rungs.find((x) => x.id === r.id && x.status === 'ok' && x.samples_s.length))
      .filter((x): x is RungResult => !!x)
      .slice(-o.window);
    if (!past.length) return { id: r.id, verdict: 'new', detail: 'no earlier night with the same scenario and model' };
    const pooled = past.flatMap((x) => x.samples_s);
    const limit = threshold(
      past.map((x) => stats(x.samples_s).median_s),
      o.factor,
    );
    const against = `against ${past.length} night(s), ${pooled.length} passes; threshold ±${(100 * limit).toFixed(0)}%`;
    const recent = test(r.samples_s, pooled, o, limit);
    if (recent.verdict !== 'unchanged') return { id: r.id, ...recent, detail: against };
    // Drift: each night within the threshold of the last ones, but far from the older half of the window.
    if (past.length >= 4) {
      const older = past.slice(0, Math.floor(past.length / 2)).flatMap((x) => x.samples_s);
      const drift = test(r.samples_s, older, o, limit);
      if (drift.verdict === 'regressed')
        return {
          id: r.id,
          ...drift,
          detail: `slow drift against the ${Math.floor(past.length / 2)} oldest night(s) of the window; threshold ±${(100 * limit).toFixed(0)}%`,
        };
    }
    if (recent.p >= o.alpha && Math.abs(Math.log(recent.ratio)) > Math.log(1 + limit)) {
      return {
        id: r.id,
        ...recent,
        verdict: 'insufficient',
        detail: `beyond the threshold but not significant (${r.samples_s.length} vs ${pooled.length} passes)`,
      };
    }
    return { id: r.id, ...recent, detail: against };
  });
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
