// Where a pass's time goes, summarized over the passes of a rung.
import { stats } from './stats.ts';

export interface PassComponents {
  text_encoding_s: number;
  unet_s: number;
  vae_decode_s: number;
  safety_checker_s: number;
  rest_s: number;
  unet_steps_s: number[];
}

/** Median of each part over the passes, and the median UNet step. */
export function summarizeComponents(passes: PassComponents[], samples: number[]): Record<string, number> {
  const med = (xs: number[]) => stats(xs).median_s;
  const keys = ['text_encoding_s', 'unet_s', 'vae_decode_s', 'safety_checker_s', 'rest_s'] as const;
  const out: Record<string, number> = Object.fromEntries(keys.map((k) => [k, med(passes.map((p) => p[k]))]));
  out.unet_step_s = med(passes.flatMap((p) => p.unet_steps_s));
  out.unet_calls_per_pass = passes[0]?.unet_steps_s.length ?? 0;
  // Share of the pass that no part accounts for (scheduler, latents, image conversion).
  out.rest_pct = 100 * med(passes.map((p, i) => p.rest_s / samples[i]!));
  return out;
}
