// Plain diffusers on PyTorch: the article's baseline, allocator and scheduler rungs.
import { z } from 'zod';
import { proveRuntimeDtype, proveScheduler, proveTorchComponents, scheduler, torchDtype } from './common.ts';
import type { Backend } from './types.ts';

const options = z
  .object({
    scheduler,
    dtype: z
      .enum(['fp32', 'bf16'])
      .default('fp32')
      .describe('bf16: the pipeline runs under torch.autocast("cpu", bf16)'),
    channels_last: z.boolean().default(false).describe('convert the components to the channels_last memory format'),
  })
  .strict();

export const backend: Backend<typeof options> = {
  name: 'torch',
  title: 'diffusers StableDiffusionPipeline on PyTorch (eager)',
  env: 'torch',
  options,
  proveLoaded: (o, eff) => [...proveScheduler(o.scheduler, eff), ...proveTorchComponents(o, eff)],
  proveRuntime: (o, eff) => proveRuntimeDtype(o.dtype, eff),
  dtype: torchDtype,
  reference: (o) => (o.dtype === 'fp32' ? 'self' : { backend: 'torch', options: { scheduler: o.scheduler } }),
  describe: (eff) => eff.runtime?.unet_output_dtype ?? '–',
};
