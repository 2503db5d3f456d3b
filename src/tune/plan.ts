// The plan of a search before it runs: how many candidates each round of successive halving
// measures with how many passes, and what that should cost here, from what earlier runs on this
// machine (results/runs, tune rounds included) measured of the same configuration, model and shapes.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';
import { type RungResult, readRunFile } from '../results/run-file.ts';
import { median } from '../results/stats.ts';
import type { Rung } from '../rungs/ladder.ts';
import type { Scenario } from '../rungs/settings.ts';
import type { SearchOptions } from './search.ts';

export interface Cost {
  /** Seconds outside the timed passes: start, load (export, compile), warm-up. */
  setup_s: number;
  /** Seconds of one timed pass. */
  pass_s: number;
  /** What the figure comes from: the same configuration, or only the same backend. */
  from: 'same configuration' | 'same backend';
}

export interface PlannedRound {
  candidates: number;
  passes: number;
  /** Seconds expected, when every candidate's cost is known. */
  estimate_s?: number;
}

/** The configuration of a rung, as a key: what it runs, not what it is called. */
const signature = (r: Pick<Rung, 'backend' | 'env' | 'launcher' | 'options'>) =>
  JSON.stringify([r.backend, r.env, r.launcher, Object.entries(r.options).sort()]);

const instancesOf = (r: Pick<Rung, 'launcher'>) => r.launcher?.instances ?? 1;

const SHAPE = ['steps', 'height', 'width', 'warmup_steps', 'guidance_scale'] as const;

/** Every ok rung of earlier runs under `root` with this model and scenario shape. */
const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

export function pastRungs(root: string, model: string, sc: Scenario): RungResult[] {
  const out: RungResult[] = [];
  if (!existsSync(root)) return out;
  if (!isDir(root)) throw new UserError(`--runs ${root} is not a folder (give the folder of earlier runs)`);
  // Plain files beside the runs (notes, archives) are not runs: skipped, never an internal error.
  const dirs = readdirSync(root).flatMap((d) => {
    const dir = path.join(root, d);
    if (!isDir(dir)) return [];
    const rounds = readdirSync(dir).filter((x) => x.startsWith('round-') && isDir(path.join(dir, x)));
    return [dir, ...rounds.map((x) => path.join(dir, x))];
  });
  for (const dir of dirs) {
    if (!existsSync(path.join(dir, 'run.json'))) continue;
    let rungs: RungResult[];
    try {
      rungs = readRunFile(dir).run.rungs;
    } catch {
      continue; // a broken run tells nothing about costs
    }
    for (const r of rungs) {
      const c = r.config as { model?: string; scenario?: Partial<Scenario> };
      if (r.status !== 'ok' || !r.stats || c.model !== model) continue;
      if (SHAPE.some((k) => c.scenario?.[k] !== sc[k])) continue;
      out.push(r);
    }
  }
  return out;
}

/** A rung's cost from the past: the same configuration if measured, else its backend's median. */
export function costFrom(past: RungResult[]): (r: Rung) => Cost | undefined {
  const costOf = (r: RungResult) => {
    const passes = r.samples_s.reduce((a, b) => a + b, 0) / (r.instances?.length ?? 1);
    return { setup_s: Math.max(0, (r.timings?.wall_s ?? passes) - passes), pass_s: r.stats!.median_s };
  };
  return (rung) => {
    const key = signature(rung);
    const same = past.filter((p) => signature(p.config as unknown as Rung) === key).map(costOf);
    const pick = (xs: { setup_s: number; pass_s: number }[]) => ({
      setup_s: median(xs.map((x) => x.setup_s)),
      pass_s: median(xs.map((x) => x.pass_s)),
    });
    if (same.length) return { ...pick(same), from: 'same configuration' };
    // Else the backend's runs, of the same instance count if any: instances load one after the
    // other, so a setup measured with another count is scaled to this one.
    const n = instancesOf(rung);
    const backend = past
      .filter((p) => p.config.backend === rung.backend)
      .map((p) => ({ n: instancesOf(p.config as unknown as Rung), cost: costOf(p) }));
    const sameN = backend.filter((b) => b.n === n);
    const base = (sameN.length ? sameN : backend).map((b) => ({ ...b.cost, setup_s: (b.cost.setup_s * n) / b.n }));
    return base.length ? { ...pick(base), from: 'same backend' } : undefined;
  };
}

/**
 * The rounds successive halving runs when nothing fails and no winner stands out early (the longest
 * search), each with its cost if every candidate's is known. Mirrors search.ts: the reference is
 * measured in every round; later rounds keep the fastest, so their cost is taken as the cheapest
 * candidates' (a lower bound when the slow ones would have been kept).
 */
export function planRounds(
  candidates: Rung[],
  reference: Rung,
  o: Pick<SearchOptions, 'eta' | 'firstPasses' | 'maxPasses' | 'maxRounds'>,
  cost: (r: Rung) => Cost | undefined,
): PlannedRound[] {
  const known = candidates.map(cost);
  const refCost = cost(reference);
  const all = known.every((c) => c) && refCost;
  const byPass = all ? (known as Cost[]).slice().sort((a, b) => a.pass_s - b.pass_s) : [];
  const rounds: PlannedRound[] = [];
  let n = candidates.length;
  let passes = o.firstPasses;
  for (;;) {
    const mine = rounds.length === 0 ? (known as Cost[]) : byPass.slice(0, n);
    rounds.push({
      candidates: n,
      passes,
      estimate_s: all ? [...mine, refCost!].reduce((s, c) => s + c.setup_s + passes * c.pass_s, 0) : undefined,
    });
    const kept = n > 1 ? Math.max(2, Math.ceil(n / o.eta)) : 1;
    const nextPasses = Math.min(o.maxPasses, passes * o.eta);
    if ((kept === n && nextPasses === passes) || (n === 1 && passes >= o.maxPasses) || rounds.length >= o.maxRounds)
      break;
    n = Math.min(n, kept);
    passes = nextPasses;
  }
  return rounds;
}
