// OpenVINO through optimum-intel: exported once per model (IR cached), dynamic or static shapes,
// int8 through NNCF (hybrid or full UNet) and OpenVINO's own knobs, each read back from the compiled models.
import { z } from 'zod';
import { proveScheduler, scheduler } from './common.ts';
import type { Backend, CommonEffective, Dtype } from './types.ts';

const options = z
  .object({
    scheduler,
    static_shape: z.boolean().default(false).describe('reshape to a static batch 1 and the run’s height and width'),
    precision: z
      .enum(['auto', 'f32', 'bf16'])
      .default('auto')
      .describe('INFERENCE_PRECISION_HINT (auto: OpenVINO’s own choice, bf16 on AVX512_BF16/AMX)'),
    quantization: z
      .enum(['none', 'hybrid', 'int8'])
      .default('none')
      .describe(
        'int8 by NNCF at export (IR cached per mode): hybrid = UNet weights and activations int8 (MatMul weights ' +
          'weight-only), int8 = the whole UNet int8; the other models get weight-only int8 in both',
      ),
    calibration_samples: z
      .number()
      .int('must be a positive integer')
      .min(1, 'must be a positive integer')
      .max(1600, 'must be at most 1600 (32 prompts x 50 steps)')
      .default(50)
      .describe(
        'UNet calls kept for calibration (not prompts): the float pipeline renders the shipped prompts at 50 steps ' +
          'each until it has this many, so 50 = one prompt’s whole trajectory, and any started prompt costs 50 calls',
      ),
    performance_hint: z
      .enum(['LATENCY', 'THROUGHPUT'])
      .optional()
      .describe('PERFORMANCE_HINT (unset: optimum-intel’s own, LATENCY)'),
    num_streams: z
      .number()
      .int('must be a positive integer')
      .min(1, 'must be a positive integer')
      .max(1024, 'must be at most 1024')
      .optional()
      .describe('NUM_STREAMS (unset: what the performance hint picks)'),
    hyper_threading: z.boolean().optional().describe('ENABLE_HYPER_THREADING (unset: OpenVINO’s own choice)'),
    model_cache: z
      .boolean()
      .default(false)
      .describe('OpenVINO’s compiled-model cache (CACHE_DIR under the ladder cache, one folder per IR): faster loads'),
  })
  .strict();

interface Submodel {
  inputs: { name: string; shape: string; static: boolean }[];
  precision: string;
  threads?: number;
  streams?: unknown;
  performance_hint?: string;
  hyper_threading?: boolean;
  loaded_from_cache?: boolean;
  /** FakeQuantize ops in the IR (activations quantized). */
  fake_quantize?: number;
  /** IR constants stored as u8/i8/u4/i4 (compressed or quantized weights). */
  int_weights?: number;
  /** Convolutions and matrix products of the compiled model's runtime graph, and those running int8 kernels. */
  compute_ops?: number;
  int8_ops?: number;
  int8_by_layer?: Record<string, number>;
  /** Linear layers with u8/i8 weights whose kernel computes in bf16/f32 (weight-only int8): not int8 ops. */
  weight_only_int8_ops?: number;
  /** Those compute ops by rt_info runtimePrecision, and by the precision of their kernel (primitiveType). */
  runtime_precisions?: Record<string, number>;
  kernel_precisions?: Record<string, number>;
}
interface Quantization {
  mode: string;
  calibration_samples: number | null;
  calibration_unet_calls?: number;
  calibration_prompts?: number;
  calibration_s?: number;
  quantize_s?: number;
  ir_cached?: boolean;
}
interface Effective extends CommonEffective {
  openvino?: {
    submodels: Record<string, Submodel>;
    timings?: Record<string, number>;
    quantization?: Quantization;
    model_cache?: { dir: string; blobs_before: number; blobs_after: number; warm: boolean } | null;
  };
}

const runsInt8 = (sub: Submodel | undefined) => (sub?.int8_ops ?? 0) > 0;

export const backend: Backend<typeof options, Effective> = {
  name: 'openvino',
  title: 'optimum-intel OVStableDiffusionPipeline on OpenVINO',
  env: 'openvino',
  // export_s includes the int8 calibration and quantization (calibration_s, quantize_s are its parts).
  oneOffTimings: ['export_s'],
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
      // The knobs, as each compiled model reports them.
      if (o.performance_hint !== undefined && sub.performance_hint !== o.performance_hint) {
        problems.push(`performance_hint: asked ${o.performance_hint}, ${name} has ${String(sub.performance_hint)}`);
      }
      if (o.num_streams !== undefined && sub.streams !== o.num_streams) {
        problems.push(`num_streams: asked ${o.num_streams}, ${name} has ${String(sub.streams)}`);
      }
      if (o.hyper_threading !== undefined && sub.hyper_threading !== o.hyper_threading) {
        problems.push(`hyper_threading: asked ${o.hyper_threading}, ${name} has ${String(sub.hyper_threading)}`);
      }
      if (!o.model_cache && sub.loaded_from_cache) {
        problems.push(`model_cache: not asked, but ${name} was loaded from a compiled-model cache`);
      }
    }
    const unet = eff.openvino?.submodels.unet;
    if (!o.static_shape && unet?.inputs.every((i) => i.static)) problems.push('dynamic shape: the unet is static');
    problems.push(...proveQuantization(o, eff));
    if (o.model_cache) {
      const cache = eff.openvino?.model_cache;
      if (!cache) problems.push('model_cache: asked, the worker set no CACHE_DIR');
      else if (!subs.some(([, s]) => s.loaded_from_cache) && !(cache.blobs_after > cache.blobs_before)) {
        problems.push(`model_cache: asked, no model was loaded from ${cache.dir} and no blob was written to it`);
      }
    }
    return problems;
  },
  // Precision, shapes, int8 kernels and knobs are read back from the compiled models at load.
  proveRuntime: () => [],
  dtype(eff): Dtype {
    const unet = eff.openvino?.submodels.unet;
    if (runsInt8(unet)) return 'int8';
    return unet?.precision === 'bf16' ? 'bf16' : 'fp32';
  },
  reference: (o) => ({ backend: 'torch', options: { scheduler: o.scheduler } }),
  describe(eff) {
    const unet = eff.openvino?.submodels.unet;
    if (!unet) return '–';
    const shapes = `${unet.inputs.every((i) => i.static) ? 'static' : 'dynamic'} shapes`;
    const q = eff.openvino?.quantization;
    // Knobs away from optimum-intel's defaults (LATENCY, one stream) only: the article's rungs read as before.
    const knobs = [
      unet.performance_hint && unet.performance_hint !== 'LATENCY' && unet.performance_hint,
      unet.streams !== undefined && unet.streams !== 1 && `${String(unet.streams)} streams`,
      eff.openvino?.model_cache && `model cache ${eff.openvino.model_cache.warm ? 'warm' : 'cold'}`,
    ].filter(Boolean);
    const tail = knobs.length ? `, ${knobs.join(', ')}` : '';
    if (runsInt8(unet)) {
      const mode = q && q.mode !== 'none' ? `${q.mode} ` : '';
      const calib = q?.calibration_unet_calls ? `, calibrated on ${q.calibration_unet_calls} UNet calls` : '';
      return `int8 ${mode}(OpenVINO, ${unet.int8_ops}/${unet.compute_ops} UNet ops in int8, rest ${unet.precision}), ${shapes}${calib}${tail}`;
    }
    return `${unet.precision} (OpenVINO), ${shapes}${tail}`;
  },
};

function proveQuantization(o: z.infer<typeof options>, eff: Effective): string[] {
  const unet = eff.openvino?.submodels.unet;
  if (!unet) return [];
  const problems: string[] = [];
  const fq = unet.fake_quantize;
  if (o.quantization === 'none') {
    if (fq) problems.push(`quantization: asked none, the unet IR has ${fq} FakeQuantize ops`);
    if (runsInt8(unet)) problems.push(`quantization: asked none, the unet runs ${unet.int8_ops} int8 kernels`);
    return problems;
  }
  if (fq === undefined || unet.int8_ops === undefined) {
    return [`quantization: asked ${o.quantization}, the worker reported no FakeQuantize or runtime precision counts`];
  }
  if (!(fq > 0)) problems.push(`quantization: asked ${o.quantization}, the unet IR has no FakeQuantize ops`);
  if (!runsInt8(unet)) problems.push(`quantization: asked ${o.quantization}, unet runs no int8 kernels`);
  const q = eff.openvino?.quantization;
  if (q?.mode !== o.quantization) {
    problems.push(`quantization: asked ${o.quantization}, the IR loaded was made with ${String(q?.mode)}`);
  } else if (q.calibration_unet_calls !== o.calibration_samples) {
    problems.push(
      `calibration_samples: asked ${o.calibration_samples} UNet calls, calibration collected ${String(q.calibration_unet_calls)}`,
    );
  }
  return problems;
}
