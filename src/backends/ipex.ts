// The article's legacy IPEX stack (torch 2.8 + IPEX 2.8, the last CPU release, archived upstream):
// channels_last and ipex.optimize(dtype=bfloat16) on every component, under bf16 autocast.
import { z } from 'zod';
import { proveRuntimeDtype, proveScheduler, proveTorchComponents, scheduler, torchDtype } from './common.ts';
import type { Backend } from './types.ts';

const options = z
  .object({
    scheduler,
    dtype: z.enum(['fp32', 'bf16']).default('fp32').describe('bf16: ipex.optimize(dtype=bfloat16) and bf16 autocast'),
    channels_last: z.boolean().default(false).describe('convert the components to the channels_last memory format'),
    ipex: z.boolean().default(false).describe('ipex.optimize() on unet, vae, text encoder and safety checker'),
  })
  .strict();

export const backend: Backend<typeof options> = {
  name: 'ipex',
  title: 'diffusers on PyTorch 2.8 with intel-extension-for-pytorch 2.8',
  env: 'ipex',
  options,
  proveLoaded: (o, eff) => [...proveScheduler(o.scheduler, eff), ...proveTorchComponents(o, eff)],
  proveRuntime: (o, eff) => proveRuntimeDtype(o.dtype, eff),
  dtype: torchDtype,
  reference: (o) => ({ backend: 'torch', options: { scheduler: o.scheduler } }),
  describe: (eff) => `${eff.runtime?.unet_output_dtype ?? '–'} (IPEX)`,
};
