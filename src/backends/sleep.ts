// A mock backend for fast, deterministic tests: it goes through the real worker, socket and run
// store, but its pass times come from its options, so verdicts built on it cannot flake.
import { z } from 'zod';
import { proveRuntimeDtype, proveScheduler, scheduler, torchDtype } from './common.ts';
import type { Backend, CommonEffective } from './types.ts';

const seconds = z.number().nonnegative().max(3600);

const options = z
  .object({
    scheduler,
    pass_s: seconds.default(0.05).describe('seconds each timed pass takes'),
    series: z
      .array(seconds)
      .max(10000)
      .default([])
      .describe('seconds of pass i = series[i % length] (overrides pass_s)'),
    process_noise: z.number().nonnegative().max(1).default(0).describe('relative sd of a per-process level factor'),
    pass_noise: z.number().nonnegative().max(1).default(0).describe('relative sd of each pass'),
    noise_seed: z.number().int().nonnegative().default(0).describe('seed of both noises'),
    load_s: seconds.default(0).describe('seconds the load takes'),
    dtype: z.enum(['fp32', 'bf16']).default('fp32').describe('the dtype it claims to compute in'),
    broken_toggle: z
      .boolean()
      .default(false)
      .describe('report the other dtype than asked (a toggle that did not take effect)'),
    image: z.enum(['seeded', 'nan', 'inf']).default('seeded').describe('the image it returns'),
    image_noise: z.number().nonnegative().max(1).default(0).describe('seeded noise added to the image (PSNR drift)'),
    fault: z
      .enum(['none', 'raise', 'exit', 'kill', 'hang', 'deadlock', 'oom'])
      .default('none')
      .describe('what goes wrong at pass fault_at_pass'),
    fault_at_pass: z.number().int().min(1).default(1),
    probe_gflops: z.number().positive().default(1000).describe('what the machine probe reads at the start of a run'),
    machine_drift: z.number().lt(1).default(0).describe('how much slower the probe reads at the end (0.2: 20%)'),
    drift: z
      .array(z.tuple([z.number().nonnegative(), z.number().positive()]))
      .max(1000)
      .default([])
      .describe('a scripted machine: [[t, factor], ...] slow-down over virtual seconds since the run began'),
    drift_clock: z.string().max(4096).default('').describe('the file holding those seconds, shared by every worker'),
    explain: z
      .boolean()
      .default(true)
      .describe('the explain job answers a scripted profile (false: like a backend without a profiler)'),
  })
  .strict();

interface Effective extends CommonEffective {
  sleep?: { process_factor: number };
}

export const backend: Backend<typeof options, Effective> = {
  name: 'sleep',
  title: 'mock backend: scripted pass times, no model (for tests)',
  env: 'torch',
  options,
  proveLoaded: (o, eff) => proveScheduler(o.scheduler, eff),
  proveRuntime: (o, eff) => proveRuntimeDtype(o.dtype, eff),
  dtype: torchDtype,
  // Its fp32 reference is a sleep rung of the same scheduler with a clean image.
  reference: (o) =>
    o.dtype === 'fp32' && o.image === 'seeded' && o.image_noise === 0
      ? 'self'
      : { backend: 'sleep', options: { scheduler: o.scheduler } },
  describe: (eff) => `${eff.runtime?.unet_output_dtype ?? '–'} (mock)`,
};
