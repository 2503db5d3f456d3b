// The search: successive halving under a time budget. Every round measures the surviving
// candidates and the reference in one run (figures compare only within a run), drops the ones whose
// toggles failed or whose image fell under the quality floor, keeps the fastest 1/eta, and measures
// them again with eta times the passes. It stops when one candidate beats the rest with
// significance, when one is left, when the next round would not fit in the budget, or after the rounds
// asked at most (a screening: its winner is only the fastest, not a proven one). Pure: the
// executor runs rounds (real workers, or scripted ones in the tests) and says what they cost.
import { judgeSamples } from '../results/significance.ts';
import type { Candidate } from './space.ts';

/** What one round says of one candidate (or of the reference). */
export interface Measured {
  id: string;
  status: 'ok' | 'failed' | 'skipped';
  /** Why it failed or was skipped (a toggle that did not take effect, a crash, the wrong CPU). */
  reason?: string;
  samples_s: number[];
  median_s?: number;
  /** PSNR against the fp32 image of the same scheduler; flagged: under the floor. */
  quality?: { psnr_db: number | null; flagged: boolean };
  /** Seconds the candidate cost outside its passes (start, load, export, compile, warm-up). */
  setup_s: number;
  /** Wall seconds of one pass (for the plan; differs from median_s when that is per image of many instances). */
  pass_s?: number;
}

export interface RoundResult {
  /** Every candidate of the round and the reference. */
  measured: Measured[];
  /** Wall seconds the round took (references, roofline and all). */
  seconds: number;
}

export interface Executor {
  /**
   * Measures `candidates` and the reference in one run with `passes` timed passes each. A candidate
   * not started within `budgetLeftS` is skipped: a round the plan underestimated ranks what it has.
   */
  round(index: number, candidates: Candidate[], passes: number, budgetLeftS: number): Promise<RoundResult>;
}

export interface SearchOptions {
  budgetS: number;
  /** Keep the fastest 1/eta of a round; the next round has eta times the passes. */
  eta: number;
  /** Passes of the screening round. */
  firstPasses: number;
  /** Passes at most in a round (the confirmation round of the last ones). */
  maxPasses: number;
  /** Rounds at most (`--max-rounds`; 1: the screening round alone). */
  maxRounds: number;
  /** Significance level and smallest factor that count as "better". */
  alpha: number;
  factor: number;
}

export const DEFAULT_SEARCH: Omit<SearchOptions, 'budgetS'> = {
  eta: 3,
  firstPasses: 1,
  maxPasses: 9,
  maxRounds: Number.POSITIVE_INFINITY,
  alpha: 0.05,
  factor: 0.02,
};

export interface Round {
  index: number;
  passes: number;
  candidates: string[];
  seconds: number;
  /** Candidates it dropped and why ("slower than the kept ones" or the failure). */
  dropped: { id: string; why: string }[];
}

export interface SearchResult {
  rounds: Round[];
  /** The last measurement of every candidate (its latest round), and of the reference. */
  latest: Record<string, Measured & { round: number }>;
  reference: string;
  winner?: string;
  /** Why the search stopped. */
  stop: string;
  spent_s: number;
}

/** Predicted cost of measuring these candidates with `passes` passes, from what they cost before. */
export function predictRound(measured: Measured[], passes: number): number {
  return measured.reduce((s, m) => s + m.setup_s + passes * (m.pass_s ?? m.median_s ?? 0), 0);
}

export async function successiveHalving(
  candidates: Candidate[],
  referenceId: string,
  exec: Executor,
  o: SearchOptions,
): Promise<SearchResult> {
  const rounds: Round[] = [];
  const latest: SearchResult['latest'] = {};
  let alive = candidates;
  let passes = o.firstPasses;
  let spent = 0;
  let stop = '';
  for (let index = 0; ; index++) {
    const res = await exec.round(index, alive, passes, o.budgetS - spent);
    spent += res.seconds;
    // Only the screening round judges images (a configuration's image is the same in every round).
    for (const m of res.measured) {
      m.quality ??= latest[m.id]?.quality;
      latest[m.id] = { ...m, round: index };
    }
    const ref = res.measured.find((m) => m.id === referenceId);
    const mine = res.measured.filter((m) => m.id !== referenceId);
    const dropped: Round['dropped'] = [];
    const good = mine.filter((m) => {
      if (m.status !== 'ok' || m.median_s === undefined) dropped.push({ id: m.id, why: m.reason ?? m.status });
      else if (m.quality?.flagged)
        dropped.push({ id: m.id, why: `image under the quality floor (PSNR ${m.quality.psnr_db?.toFixed(1)} dB)` });
      else if (!m.quality) dropped.push({ id: m.id, why: 'image not judged (no fp32 reference image)' });
      else return true;
      return false;
    });
    good.sort((a, b) => a.median_s! - b.median_s!);
    const round: Round = { index, passes, candidates: alive.map((c) => c.id), seconds: res.seconds, dropped };
    rounds.push(round);
    if (!good.length) {
      stop = 'no candidate was measured correctly';
      break;
    }
    // Significance: the fastest against the runner-up (or against the reference when alone).
    const [best, second] = good;
    const rival = second ?? ref;
    if (rival && best!.samples_s.length > 1 && rival.samples_s.length > 1) {
      const j = judgeSamples(best!.samples_s, rival.samples_s, { alpha: o.alpha, factor: o.factor });
      if (j.verdict === 'faster') {
        stop = `${best!.id} is faster than ${rival.id} with significance (p=${j.test.p.toPrecision(2)})`;
        for (const m of good.slice(1)) dropped.push({ id: m.id, why: `slower than ${best!.id}` });
        alive = [best!].map((m) => candidates.find((c) => c.id === m.id)!);
        break;
      }
    }
    if (good.length === 1 && passes >= o.maxPasses) {
      stop = `one candidate left, measured with ${passes} passes`;
      alive = candidates.filter((c) => c.id === best!.id);
      break;
    }
    if (rounds.length >= o.maxRounds) {
      stop = `${rounds.length} round${rounds.length > 1 ? 's' : ''}, the most asked (--max-rounds): ${best!.id} was the fastest, not shown faster with significance`;
      alive = good.map((m) => candidates.find((c) => c.id === m.id)!);
      break;
    }
    const keep = Math.max(1, Math.min(good.length, Math.ceil(good.length / o.eta)));
    // Two are kept at the end so that the last round can tell them apart.
    const kept = good.slice(0, good.length > 1 ? Math.max(2, keep) : 1);
    const nextPasses = Math.min(o.maxPasses, passes * o.eta);
    // The next round: the kept ones and the reference again (no quality references after the first).
    const next = predictRound(ref ? [...kept, ref] : kept, nextPasses);
    for (const m of good.slice(kept.length)) dropped.push({ id: m.id, why: `slower than the ${kept.length} kept` });
    alive = kept.map((m) => candidates.find((c) => c.id === m.id)!);
    if (spent >= o.budgetS) {
      stop = `the budget was spent (${Math.round(spent)} s of ${Math.round(o.budgetS)} s)`;
      break;
    }
    if (spent + next > o.budgetS) {
      stop = `the next round (${kept.length} candidates, ${nextPasses} passes, about ${Math.round(next)} s) would not fit in the budget (${Math.round(o.budgetS - spent)} s left)`;
      break;
    }
    if (kept.length === good.length && nextPasses === passes) {
      stop = `no more passes to add (at most ${o.maxPasses}) and no significant difference`;
      break;
    }
    passes = nextPasses;
  }
  const winner = alive
    .map((c) => latest[c.id])
    .filter(
      (m): m is SearchResult['latest'][string] => m?.status === 'ok' && m.median_s !== undefined && !m.quality?.flagged,
    )
    .sort((a, b) => a.median_s! - b.median_s!)[0]?.id;
  return { rounds, latest, reference: referenceId, winner, stop, spent_s: spent };
}
