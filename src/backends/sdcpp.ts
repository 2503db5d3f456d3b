// stable-diffusion.cpp (ggml) through its Python bindings, built from source for this CPU: the model folder
// converted once by sd.cpp into a q8_0 or f16 gguf, the whole image made by sd.cpp (its own noise, sampler
// and schedule), proven from its log lines, ggml's system info, the gguf header and the threads that ran.
import { z } from 'zod';
import { scheduler } from './common.ts';
import type { Backend, CommonEffective, Dtype, Runtime } from './types.ts';

export const WEIGHT_TYPES = ['q8_0', 'f16', 'f32'] as const;
/** The scenario's schedulers as sd.cpp's nearest (sample method, sigma schedule), and how sd.cpp logs each. */
export const SAMPLERS: Record<string, { method: string; schedule: string; logged: string }> = {
  default: { method: 'ipndm', schedule: 'discrete', logged: 'iPNDM' },
  dpm: { method: 'dpm++2m', schedule: 'discrete', logged: 'DPM++ (2M)' },
};

const options = z
  .object({
    scheduler: scheduler.describe(
      'scheduler, as sd.cpp’s nearest: default (PNDM) runs iPNDM, dpm (DPMSolverMultistep) runs DPM++ (2M), both on the discrete sigma schedule',
    ),
    weight_type: z
      .enum(WEIGHT_TYPES)
      .default('q8_0')
      .describe(
        'the gguf the model folder is converted to by sd.cpp’s own convert (cached): q8_0 (8-bit blocks, int8 dot products), f16, or f32 (the reference the others’ images are judged against)',
      ),
    threads: z
      .number()
      .int('must be a positive integer')
      .min(1, 'must be a positive integer')
      .max(1024, 'must be at most 1024')
      .optional()
      .describe('n_threads of the sd.cpp context (unset: the launcher’s thread count, else sd.cpp’s default)'),
    flash_attn: z
      .boolean()
      .default(false)
      .describe('sd.cpp’s flash attention (flash_attn): in the UNet, the text encoder and the VAE'),
    conv_direct: z
      .boolean()
      .default(false)
      .describe('sd.cpp’s direct 2D convolution instead of im2col + matrix product, in the UNet and the VAE'),
  })
  .strict();

const KNOBS = ['flash_attn', 'conv_direct'] as const;
type Knob = (typeof KNOBS)[number];

interface SdcppRuntime extends Runtime {
  busy_threads?: number;
  sample_method?: string | null;
  schedule?: string | null;
  seed?: number | null;
  size?: [number, number] | null;
}
interface Effective extends CommonEffective {
  runtime?: SdcppRuntime | null;
  sdcpp?: {
    version: string;
    sd_version: string;
    sd_commit: string;
    build: { cmake_args: string; build_wall_s: number; build_cpu_s: number; system_info: string } | null;
    system_info: string;
    isa: Record<string, boolean>;
    isa_missing: string[];
    weight_type: string;
    file: { path: string; bytes: number; sha256_first_mb: string };
    file_types: Record<string, Record<string, number>>;
    loaded_path: string | null;
    model_version: string | null;
    weight_stats: Record<string, Record<string, number>>;
    n_threads: number;
    logged_threads: number | null;
    /** Per knob, per network: whether sd.cpp logged turning it on while loading. */
    knobs_logged: Record<Knob, Record<string, boolean>>;
    sampler: { sample_method: string; schedule: string; logged_as: string };
  };
}

/** The type the asked weight type shows as in a network: f32 counts only when it is the ask. */
const heldType = (types: Record<string, number> | undefined, asked: string) => dominantType(types, asked === 'f32');

/**
 * The type holding the most of a network (parameters in the file, tensors in sd.cpp's count), f32 aside
 * unless `withF32`: any conversion keeps norms and biases f32, and q8_0 keeps f32 every tensor whose rows
 * are not a multiple of its 32-value blocks (the 3x3 and 1x1 convolutions).
 */
export function dominantType(types: Record<string, number> | undefined, withF32 = false): string | undefined {
  return Object.entries(types ?? {})
    .filter(([t]) => withF32 || t !== 'f32')
    .sort((a, b) => b[1] - a[1])[0]?.[0];
}

export const backend: Backend<typeof options, Effective> = {
  name: 'sdcpp',
  title: 'stable-diffusion.cpp (ggml, built for this CPU) on a q8_0 or f16 gguf converted from the model folder',
  env: 'sdcpp',
  // sd.cpp's conversion of the model folder to the gguf of the asked weight type.
  oneOffTimings: ['convert_s'],
  options,
  proveLoaded(o, eff, launcher) {
    const s = eff.sdcpp;
    if (!s) return ['sdcpp: worker reported no stable-diffusion.cpp context'];
    const problems: string[] = [];
    const file = `/model-${o.weight_type}.gguf`;
    if (!s.file.path.endsWith(file)) problems.push(`model: asked ${file.slice(1)}, the worker opened ${s.file.path}`);
    if (s.loaded_path !== s.file.path) {
      problems.push(`model: sd.cpp logged loading ${s.loaded_path ?? 'nothing'}, not ${s.file.path}`);
    }
    const inFile = heldType(s.file_types.diffusion_model, o.weight_type);
    if (inFile !== o.weight_type) {
      problems.push(`weight_type: asked ${o.weight_type}, the UNet in the file is ${inFile ?? 'absent'}`);
    }
    const counted = heldType(s.weight_stats.diffusion_model, o.weight_type);
    if (counted !== o.weight_type) {
      problems.push(`weight_type: asked ${o.weight_type}, sd.cpp counted a ${counted ?? 'missing'} UNet`);
    }
    const threads = o.threads ?? launcher.threads;
    if (threads !== undefined && s.n_threads !== threads) {
      problems.push(`threads: asked ${threads}, the sd.cpp context has ${s.n_threads}`);
    }
    if (s.logged_threads !== s.n_threads) {
      problems.push(`threads: passed ${s.n_threads}, sd.cpp logged loading with ${s.logged_threads ?? 'no count'}`);
    }
    for (const knob of KNOBS) {
      const wrong = Object.entries(s.knobs_logged?.[knob] ?? {}).filter(([, on]) => on !== o[knob]);
      if (!s.knobs_logged?.[knob]) problems.push(`${knob}: the worker did not read sd.cpp’s log for it`);
      for (const [net] of wrong) {
        problems.push(
          `${knob}: asked ${o[knob] ? 'on' : 'off'}, sd.cpp logged it ${o[knob] ? 'off' : 'on'} in the ${net}`,
        );
      }
    }
    if (s.isa_missing.length) {
      problems.push(`isa: ggml was built without ${s.isa_missing.join(', ')}, which this CPU has`);
    }
    return problems;
  },
  proveRuntime(o, eff) {
    const rt = eff.runtime;
    const s = eff.sdcpp;
    if (!rt || !s) return ['runtime: the worker did not report what sd.cpp ran'];
    if (rt.unet_calls < 1) return ['runtime: sd.cpp ran no sampling step'];
    const problems: string[] = [];
    const want = SAMPLERS[o.scheduler]!;
    if (rt.sample_method !== want.logged) {
      problems.push(`scheduler: asked ${want.logged}, sd.cpp sampled with ${rt.sample_method ?? 'nothing logged'}`);
    }
    if (rt.schedule !== want.schedule) {
      problems.push(`scheduler: asked the ${want.schedule} schedule, sd.cpp used ${rt.schedule ?? 'none logged'}`);
    }
    if (rt.busy_threads !== s.n_threads) {
      problems.push(`threads: the context has ${s.n_threads}, ${rt.busy_threads ?? 'no'} threads ran the generation`);
    }
    return problems;
  },
  // A q8_0 product quantizes its activations too and multiplies in int8 (VNNI where there), but in SD 1.5 the
  // convolutions, most of the UNet's parameters and FLOPs, stay f32; f16 weights are widened to fp32 for
  // fp32 FMAs on a CPU without f16 arithmetic. So int8 only where q8_0 holds most of the UNet.
  dtype: (eff): Dtype => (dominantType(eff.sdcpp?.file_types.diffusion_model, true) === 'q8_0' ? 'int8' : 'fp32'),
  // Judged against sd.cpp's own f32 image (same noise, sampler and text encoder): what quantization costs.
  // Against PyTorch's image the noise differs, and PSNR would measure that (docs/peers.md).
  reference: (o) =>
    o.weight_type === 'f32' ? 'self' : { backend: 'sdcpp', options: { scheduler: o.scheduler, weight_type: 'f32' } },
  describe(eff) {
    const s = eff.sdcpp;
    if (!s) return '–';
    const isa = ['AVX512_VNNI', 'AVX512', 'AVX2'].find((k) => s.isa[k]) ?? 'no AVX2';
    return `${heldType(s.file_types.diffusion_model, s.weight_type) ?? 'no'} gguf (stable-diffusion.cpp ${s.sd_version}, ${isa}, ${s.n_threads} threads, ${s.sampler.sample_method}/${s.sampler.schedule}, own noise)`;
  },
};
