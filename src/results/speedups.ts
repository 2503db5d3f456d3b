// Speedups from medians, only against rungs measured in the same run (per-image times differ up to
// 3x between machines of one kind, so a figure from elsewhere is no baseline).
import type { RunFile } from './run-file.ts';

/** Against the baseline (the ladder's first rung) and against each rung's `compare_to`. */
export function addSpeedups(run: RunFile): void {
  const median = (id?: string) => run.rungs.find((r) => r.id === id && r.status === 'ok')?.stats?.median_s;
  const base = run.ladder?.baseline; // not measured in this run (--only): no speedup against it
  for (const r of run.rungs) {
    const m = r.stats?.median_s;
    if (r.status !== 'ok' || m === undefined) continue;
    const b = median(base);
    const p = median(r.compare_to ?? base);
    r.speedup_vs_baseline = b !== undefined ? b / m : undefined;
    r.speedup_vs_previous = p !== undefined && r.id !== base ? p / m : undefined;
  }
}
