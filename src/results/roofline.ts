// Each rung on the roofline: the work of its image over its median time, against the measured peak
// of the dtype it really ran in. Pure, so `ladder report` can recompute it from run.json.
import type { Effective } from '../run/verify.ts';
import type { RunFile, RungResult } from './run-file.ts';

/** The dtype a rung's heavy math runs in, as the worker reported it. */
export function rungDtype(r: RungResult): 'fp32' | 'bf16' {
  const eff = r.effective as Effective | undefined;
  if (eff?.openvino) return eff.openvino.submodels.unet?.precision === 'bf16' ? 'bf16' : 'fp32';
  return eff?.runtime?.autocast_dtype === 'bfloat16' ? 'bf16' : 'fp32';
}

export function placeOnRoofline(run: RunFile): void {
  const rl = run.roofline;
  if (!rl) return;
  const f = rl.flops;
  for (const r of run.rungs) {
    if (r.status !== 'ok' || !r.stats) continue;
    // UNet calls per pass depend on the scheduler (PNDM adds one to the steps): use what was counted.
    const calls = r.breakdown?.unet_calls_per_pass ?? f.unet! / f.unet_per_call!;
    const work = f.text_encoding! + f.unet_per_call! * calls + f.vae_decode! + f.safety_checker!;
    const dtype = rungDtype(r);
    const peak = rl.peaks_gflops[dtype]!;
    const gflops = work / 1e9 / r.stats.median_s;
    const step = r.breakdown?.unet_step_s;
    const unet = step ? f.unet_per_call! / 1e9 / step : undefined;
    r.roofline = { dtype, flops: work, gflops, pct_of_peak: (100 * gflops) / peak, unet_gflops: unet, unet_pct_of_peak: unet === undefined ? undefined : (100 * unet) / peak };
  }
}
