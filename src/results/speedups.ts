// Speedups, only against rungs measured in the same run (per-image times differ up to 3x between
// machines of one kind, so a figure from elsewhere is no baseline). A run of several rounds pairs
// the two rungs within each round (the machine drifts 1.4-1.6x within an hour: rungs measured far
// apart in time would compare the machine's moments, not the rungs); a run of one round can only
// divide the two medians.
import { pairedRatio } from './paired.ts';
import type { RunFile, RungResult } from './run-file.ts';

/** A run whose rungs were interleaved over more than one round. */
export const interleaved = (run: RunFile) => (run.rounds?.done.length ?? 1) > 1;

/** Against the baseline (the ladder's first rung) and against each rung's `compare_to`. */
export function addSpeedups(run: RunFile): void {
  const ok = (id?: string) => run.rungs.find((r) => r.id === id && r.status === 'ok' && r.stats);
  const base = run.ladder?.baseline; // not measured in this run (--only): no speedup against it
  const paired = interleaved(run);
  const ratio = (ref: RungResult | undefined, r: RungResult) => {
    if (!ref) return undefined;
    if (!paired) return { value: ref.stats!.median_s / r.stats!.median_s };
    const p = pairedRatio(ref.id, ref.rounds ?? [], r.rounds ?? []);
    return p && { value: p.ratio, paired: p };
  };
  for (const r of run.rungs) {
    if (r.status !== 'ok' || !r.stats) continue;
    const b = ratio(ok(base), r);
    const p = r.id !== base ? ratio(ok(r.compare_to ?? base), r) : undefined;
    r.speedup_vs_baseline = b?.value;
    r.speedup_vs_previous = p?.value;
    r.paired = paired && r.id !== base ? { vs_baseline: b?.paired, vs_previous: p?.paired } : undefined;
  }
}
