// OpenVINO through optimum-intel: exported once per model (IR cached), dynamic or static shapes.
import { z } from 'zod';
import { proveScheduler, scheduler } from './common.ts';
import type { Backend, CommonEffective } from './types.ts';

const options = z
  .object({
    scheduler,
    static_shape: z.boolean().default(false).describe('reshape to a static batch 1 and the run’s height and width'),
    precision: z
      .enum(['auto', 'f32', 'bf16'])
      .default('auto')
      .describe('INFERENCE_PRECISION_HINT (auto: OpenVINO’s own choice, bf16 on AVX512_BF16/AMX)'),
  })
  .strict();

interface Submodel {
  inputs: { name: string; shape: string; static: boolean }[];
  precision: string;
  threads?: number;
  streams?: unknown;
}
interface Effective extends CommonEffective {
  openvino?: { submodels: Record<string, Submodel>; timings?: Record<string, number> };
}

export const backend: Backend<typeof options, Effective> = {
  name: 'openvino',
  title: 'optimum-intel OVStableDiffusionPipeline on OpenVINO',
  env: 'openvino',
  options,
  proveLoaded(o, eff, launcher) {
    const problems = proveScheduler(o.scheduler, eff);
    const subs = Object.entries(eff.openvino?.submodels ?? {});
    if (!subs.length) problems.push('openvino: worker reported no compiled models');
    for (const [name, sub] of subs) {
      // OpenVINO's CPU plugin has its own thread pool: the rung's thread count must reach it.
      if (launcher.threads !== undefined && sub.threads !== undefined && sub.threads !== launcher.threads) {
        problems.push(`threads: asked ${launcher.threads}, OpenVINO ${name} uses ${sub.threads}`);
      }
      const dynamic = sub.inputs.filter((i) => !i.static);
      if (o.static_shape && dynamic.length) {
        problems.push(`static shape: ${name} input ${dynamic[0]!.name} is ${dynamic[0]!.shape}`);
      }
      if (o.precision !== 'auto' && sub.precision !== o.precision) {
        problems.push(`precision: asked ${o.precision}, ${name} runs ${sub.precision}`);
      }
    }
    const unet = eff.openvino?.submodels.unet;
    if (!o.static_shape && unet?.inputs.every((i) => i.static)) problems.push('dynamic shape: the unet is static');
    return problems;
  },
  // Precision and shapes are read back from the compiled models at load; nothing more to see later.
  proveRuntime: () => [],
  dtype: (eff) => (eff.openvino?.submodels.unet?.precision === 'bf16' ? 'bf16' : 'fp32'),
  reference: (o) => ({ backend: 'torch', options: { scheduler: o.scheduler } }),
  describe(eff) {
    const unet = eff.openvino?.submodels.unet;
    if (!unet) return '–';
    return `${unet.precision} (OpenVINO), ${unet.inputs.every((i) => i.static) ? 'static' : 'dynamic'} shapes`;
  },
};
