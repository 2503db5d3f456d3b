// The order of the rungs in each round. Round 0 keeps the ladder's order, so its ratios are what a
// run of one round (today's order) would have measured; every later round is shuffled, seeded, and
// the reference's position cycles through every slot, so it is never always first or last. And what a
// round costs, for the time left.
import { BACKENDS } from '../backends/registry.ts';
import type { RunFile } from '../results/run-file.ts';

/** mulberry32: a small, well-mixed 32-bit generator; the same seed gives the same orders. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], random: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * The rung ids of round `round` (0-based). `reference`: the rung every ratio is taken against (the
 * ladder's first rung, when it runs), whose slot in rounds 1, 2, ... goes through a seeded
 * permutation of all slots in each block of `ids.length` rounds, never first in round 1 (it was
 * first in round 0).
 */
export function roundOrder(ids: string[], round: number, seed: number, reference?: string): string[] {
  if (round === 0 || ids.length < 2) return [...ids];
  // Every round draws from its own stream: a round's order does not depend on how many came before.
  const random = rng((seed ^ Math.imul(round, 0x9e3779b1)) >>> 0);
  const others = shuffle(
    ids.filter((id) => id !== reference),
    random,
  );
  if (reference === undefined || !ids.includes(reference)) return others;
  const k = ids.length;
  const block = Math.floor((round - 1) / k);
  const slots = shuffle(
    Array.from({ length: k }, (_, i) => i),
    rng((seed ^ Math.imul(block + 1, 0x85ebca6b)) >>> 0),
  );
  // Round 1 must not put it first again: move slot 0 away from the head of the first block.
  if (block === 0 && slots[0] === 0) slots.push(slots.shift()!);
  const slot = slots[(round - 1) % k]!;
  others.splice(slot, 0, reference);
  return others;
}

/**
 * Seconds of round `r` spent once per machine (exports, quantization, conversions, cached after): the
 * backends' oneOffTimings of every rung whose first process ran in that round, since `sinceMs` (a
 * rung's timings keep its first process's load fields; one kept from an interrupted run spent them
 * before). A round's cost estimate leaves them out: else a run on fresh caches reads its first round's
 * 17-minute int8 export as the cost of every round, and --budget stops it after one.
 */
export function oneOffSeconds(run: Pick<RunFile, 'rungs'>, r: number, sinceMs: number): number {
  let s = 0;
  for (const x of run.rungs) {
    const first = x.rounds?.[0];
    if (first?.round !== r || !(Date.parse(first.started) >= sinceMs)) continue;
    const keys = BACKENDS.get(String(x.config?.backend))?.oneOffTimings ?? [];
    for (const k of keys) s += x.timings?.[k] ?? 0;
  }
  return s;
}
