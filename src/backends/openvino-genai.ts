// OpenVINO GenAI's C++ Text2ImagePipeline on the IR the openvino backend exports (float or NNCF int8),
// static shapes, the shared initial latents through a Generator. GenAI exposes no compiled model's
// properties: the worker exports each compiled component (static inputs), compiles the UNet IR itself with
// the same properties (precision, threads, int8 kernels read back), requires GenAI's UNet to give that
// compile's output bit for bit on one fixed input, and counts the threads GenAI's UNet keeps busy.
import { z } from 'zod';
import { SCHEDULERS } from '../protocol/scenario.ts';
import { scheduler } from './common.ts';
import { backend as openvino } from './openvino.ts';
import type { Backend, CommonEffective, Dtype } from './types.ts';

export const NETWORKS = ['text_encoder', 'unet', 'vae_decoder'] as const;
/** The diffusers schedulers GenAI 2026.4 has a counterpart of (Scheduler.Type); it has no DPM-Solver. */
export const GENAI_SCHEDULERS = [
  'PNDMScheduler',
  'DDIMScheduler',
  'EulerDiscreteScheduler',
  'EulerAncestralDiscreteScheduler',
  'LMSDiscreteScheduler',
  'LCMScheduler',
];
const ov = openvino.options.shape;

const options = z
  .object({
    scheduler: scheduler
      .refine((s) => SCHEDULERS[s] == null || GENAI_SCHEDULERS.includes(SCHEDULERS[s]), {
        error: (issue) => `GenAI has no ${SCHEDULERS[String(issue.input)]} (it has ${GENAI_SCHEDULERS.join(', ')})`,
      })
      .describe(
        'the model folder’s own (PNDM for SD 1.5) as GenAI’s Scheduler.from_config; dpm is refused: GenAI 2026.4 has no DPM-Solver',
      ),
    precision: ov.precision,
    quantization: ov.quantization,
    calibration_samples: ov.calibration_samples,
  })
  .strict();

interface FileProof {
  path: string;
  bytes: number;
  sha256_first_mb: string;
}
interface Network {
  xml: FileProof;
  bin: FileProof;
  inputs: { name: string; shape: string; static: boolean }[] | null;
  fake_quantize?: number;
  int_weights?: number;
}
interface UnetCheck {
  precision: string;
  threads: number;
  execution_devices?: string[];
  /** Threads of the worker that GenAI's own UNet kept busy (CPU time over repeated calls, from /proc). */
  busy_threads?: number;
  busy_ticks?: number[];
  compute_ops: number;
  int8_ops: number;
  max_abs_diff: number;
  other_precision: string;
  other_precision_max_abs_diff: number;
}
interface Effective extends CommonEffective {
  openvino_genai?: {
    version: string;
    openvino_version: string;
    ir_dir: string;
    ir_quantization: { mode: string; calibration_unet_calls: number | null };
    properties: Record<string, unknown>;
    scheduler_type: string;
    networks: Record<string, Network>;
    unet_check?: UnetCheck;
  };
  runtime?: CommonEffective['runtime'] & { latent_draws?: number[][][] | null };
}

/** '2026.4.1' of '2026.4.1.0-3408-ab01d17' and of '2026.4.1-20910-...'. */
const release = (v: string) => v.split('-')[0]!.split('.').slice(0, 3).join('.');

export const backend: Backend<typeof options, Effective> = {
  name: 'openvino-genai',
  title: 'OpenVINO GenAI’s C++ Text2ImagePipeline on the openvino backend’s IR, static shapes',
  env: 'openvino',
  // The openvino backend's IR, exported (and quantized) on first use.
  oneOffTimings: ['export_s'],
  options,
  proveLoaded(o, eff, launcher) {
    const g = eff.openvino_genai;
    if (!g) return ['openvino-genai: worker reported no pipeline'];
    const problems: string[] = [];
    const want = SCHEDULERS[o.scheduler];
    if (want && eff.scheduler !== want) problems.push(`scheduler: asked ${want}, pipeline has ${eff.scheduler}`);
    if (release(g.version) !== release(g.openvino_version)) {
      problems.push(`versions: openvino-genai ${g.version} beside openvino ${g.openvino_version}`);
    }
    for (const name of NETWORKS) {
      const n = g.networks[name];
      if (!n) {
        problems.push(`openvino-genai: no ${name}`);
        continue;
      }
      // The openvino backend's IR, through the view's symlinks.
      for (const f of [n.xml, n.bin]) {
        if (!f.path.startsWith(`${g.ir_dir}/${name}/`))
          problems.push(`${name}: loaded ${f.path}, not from ${g.ir_dir}`);
      }
      const dynamic = (n.inputs ?? []).filter((i) => !i.static);
      if (!n.inputs) problems.push(`static shape: ${name}'s compiled model could not be exported`);
      else if (dynamic.length) problems.push(`static shape: ${name} input ${dynamic[0]!.name} is ${dynamic[0]!.shape}`);
    }
    const made = g.ir_quantization;
    if (made.mode !== o.quantization) {
      problems.push(`quantization: asked ${o.quantization}, the IR loaded was made with ${made.mode}`);
    } else if (o.quantization !== 'none' && made.calibration_unet_calls !== o.calibration_samples) {
      problems.push(
        `calibration_samples: asked ${o.calibration_samples} UNet calls, the IR was calibrated on ${String(made.calibration_unet_calls)}`,
      );
    }
    const threads = launcher.threads;
    if (threads !== undefined && g.properties.INFERENCE_NUM_THREADS !== threads) {
      problems.push(`threads: asked ${threads}, GenAI was given ${String(g.properties.INFERENCE_NUM_THREADS)}`);
    }
    const check = g.unet_check;
    if (!check) return [...problems, 'unet: the worker could not compare GenAI’s UNet with a compile of its IR'];
    if (threads !== undefined && check.threads !== threads) {
      problems.push(`threads: asked ${threads}, the UNet compiled with GenAI’s properties has ${check.threads}`);
    }
    if (threads !== undefined && check.busy_threads !== threads) {
      problems.push(`threads: asked ${threads}, GenAI’s UNet kept ${String(check.busy_threads)} threads busy`);
    }
    const devices = check.execution_devices?.join(', ');
    if (devices !== 'CPU')
      problems.push(`devices: the UNet compiled with GenAI’s properties runs on ${String(devices)}`);
    if (o.precision !== 'auto' && check.precision !== o.precision) {
      problems.push(
        `precision: asked ${o.precision}, the UNet compiled with GenAI’s properties runs ${check.precision}`,
      );
    }
    if (check.max_abs_diff !== 0) {
      problems.push(
        `unet: GenAI’s output differs from the IR compiled with its properties (${check.precision}) by ${check.max_abs_diff}`,
      );
    }
    if (!(check.other_precision_max_abs_diff > 0)) {
      problems.push(`unet: the check cannot tell ${check.precision} from ${check.other_precision} (same output)`);
    }
    problems.push(...proveInt8(o.quantization, g.networks.unet, check));
    return problems;
  },
  proveRuntime(_o, eff) {
    const rt = eff.runtime;
    if (!rt) return ['runtime: the worker did not report GenAI’s UNet calls'];
    if (rt.unet_calls < 1) return ['runtime: GenAI’s UNet never ran'];
    // One generate() each, each drawing the initial latents once from the shared Generator.
    const draws = rt.latent_draws ?? [];
    if (!draws.length || draws.some((d) => d.length !== 1)) {
      return [`latents: GenAI drew ${JSON.stringify(draws)} from the shared Generator, not the initial latents once`];
    }
    return [];
  },
  dtype(eff): Dtype {
    const check = eff.openvino_genai?.unet_check;
    if ((check?.int8_ops ?? 0) > 0) return 'int8';
    return check?.precision === 'bf16' ? 'bf16' : 'fp32';
  },
  reference: (o) => ({ backend: 'torch', options: { scheduler: o.scheduler } }),
  describe(eff) {
    const g = eff.openvino_genai;
    const check = g?.unet_check;
    if (!g || !check) return '–';
    const where = `OpenVINO GenAI ${release(g.version)}, ${g.scheduler_type}, static shapes`;
    if (check.int8_ops > 0) {
      return `int8 (${where}, ${check.int8_ops}/${check.compute_ops} UNet ops in int8, rest ${check.precision})`;
    }
    return `${check.precision} (${where})`;
  },
};

function proveInt8(quantization: string, unet: Network | undefined, check: UnetCheck): string[] {
  const fq = unet?.fake_quantize;
  if (fq === undefined) return ['quantization: the worker did not count the UNet IR’s FakeQuantize ops'];
  if (quantization === 'none') {
    const problems = [];
    if (fq > 0) problems.push(`quantization: asked none, the unet IR has ${fq} FakeQuantize ops`);
    if (check.int8_ops > 0) problems.push(`quantization: asked none, the unet runs ${check.int8_ops} int8 kernels`);
    return problems;
  }
  const problems = [];
  if (!(fq > 0)) problems.push(`quantization: asked ${quantization}, the unet IR has no FakeQuantize ops`);
  if (!(check.int8_ops > 0)) problems.push(`quantization: asked ${quantization}, the unet runs no int8 kernels`);
  return problems;
}
