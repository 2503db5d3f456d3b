// Each rung on the roofline: the work of its image over its median time, against the measured peak
// of the dtype it really ran in. Pure, so `ladder report` can recompute it from run.json.
import { BACKENDS } from '../backends/registry.ts';
import type { Dtype } from '../backends/types.ts';
import type { RunFile, RungResult } from './run-file.ts';

/** The dtype a rung's heavy math ran in, as its backend reads it from what the worker reported. */
export function rungDtype(r: RungResult): Dtype {
  const backend = BACKENDS.get(String(r.config.backend ?? r.effective?.backend));
  return backend && r.effective ? backend.dtype(r.effective) : 'fp32';
}

/**
 * The peak each dtype's rungs are placed against: the probed (or cached) peak, or this run's own
 * machine probe where it read higher. Both are the same matrix products; a cached peak below what
 * the machine did during the run was probed in a slow moment, and would inflate every share.
 */
export function runPeaks(run: RunFile): Record<string, number> {
  const peaks = { ...run.roofline?.peaks_gflops };
  for (const side of [run.machine_probe?.start, run.machine_probe?.end])
    for (const [d, g] of Object.entries(side?.gflops ?? {}))
      if (peaks[d] !== undefined && Number.isFinite(g) && g > peaks[d]) peaks[d] = g;
  return peaks;
}

export function placeOnRoofline(run: RunFile): void {
  const rl = run.roofline;
  if (!rl) return;
  const peaks = runPeaks(run);
  const f = rl.flops;
  for (const r of run.rungs) {
    if (r.status !== 'ok' || !r.stats) continue;
    // UNet calls per pass depend on the scheduler (PNDM adds one to the steps): use what was counted.
    const calls = r.breakdown?.unet_calls_per_pass ?? f.unet! / f.unet_per_call!;
    const work = f.text_encoding! + f.unet_per_call! * calls + f.vae_decode! + f.safety_checker!;
    const dtype = rungDtype(r);
    const peak = peaks[dtype];
    if (peak === undefined) continue; // no probe for this dtype
    // Several instances share the machine's peak: their rate together is what is placed on it.
    const n = r.instances?.length ?? 1;
    const gflops = n > 1 && r.throughput ? (work / 1e9) * r.throughput.images_per_s : work / 1e9 / r.stats.median_s;
    const step = r.breakdown?.unet_step_s;
    const unet = step ? (n * f.unet_per_call!) / 1e9 / step : undefined;
    // A share above 100% is impossible: the peak probe (or the FLOP count) was off. Flagged, not shown.
    const share = (x: number) => (x <= peak ? (100 * x) / peak : undefined);
    r.roofline = {
      dtype,
      flops: work,
      gflops,
      pct_of_peak: share(gflops),
      unet_gflops: unet,
      unet_pct_of_peak: unet === undefined ? undefined : share(unet),
      above_peak: gflops > peak || (unet ?? 0) > peak ? true : undefined,
    };
  }
}

/** Whether a rung that ran in `dtype` achieved more than the measured peak of that dtype. */
export function abovePeak(run: RunFile, dtype: string): boolean {
  return run.rungs.some((r) => r.roofline?.dtype === dtype && r.roofline.above_peak);
}
