// ONNX Runtime on its CPU execution provider: the pipeline's networks exported once per model to ONNX,
// fp32 or with a dynamically quantized int8 UNet, each session's providers, file, threads and graph
// optimization read back from the session, and the UNet file's op types counted.
import { z } from 'zod';
import { proveScheduler, scheduler } from './common.ts';
import type { Backend, CommonEffective, Dtype } from './types.ts';

/** The session option each graph_optimization value sets (onnxruntime.GraphOptimizationLevel). */
export const GRAPH_LEVELS = {
  all: 'ORT_ENABLE_ALL',
  extended: 'ORT_ENABLE_EXTENDED',
  basic: 'ORT_ENABLE_BASIC',
  disabled: 'ORT_DISABLE_ALL',
} as const;
const PROVIDER = 'CPUExecutionProvider';
export const SESSIONS = ['text_encoder', 'unet', 'vae_decoder'] as const;
/** The nodes only a dynamically quantized graph has. */
export const INTEGER_OPS = ['ConvInteger', 'MatMulInteger', 'DynamicQuantizeLinear'] as const;

const options = z
  .object({
    scheduler,
    precision: z
      .enum(['fp32', 'int8'])
      .default('fp32')
      .describe(
        'int8: the UNet quantized by onnxruntime.quantization.quantize_dynamic (u8 weights, activations quantized ' +
          'at run time), cached beside the fp32 export; text encoder and VAE stay fp32',
      ),
    intra_op_threads: z
      .number()
      .int('must be a positive integer')
      .min(1, 'must be a positive integer')
      .max(1024, 'must be at most 1024')
      .optional()
      .describe('SessionOptions.intra_op_num_threads of every session (unset: the launcher’s thread count)'),
    graph_optimization: z
      .enum(Object.keys(GRAPH_LEVELS) as [keyof typeof GRAPH_LEVELS, ...(keyof typeof GRAPH_LEVELS)[]])
      .default('all')
      .describe('SessionOptions.graph_optimization_level of every session'),
  })
  .strict();

interface Session {
  providers: string[];
  file: { path: string; bytes: number; folder_bytes: number; sha256_first_mb: string };
  intra_op_threads: number;
  graph_optimization: string;
  /** The UNet only: its file's op types, and how many are integer ops. */
  op_types?: Record<string, number>;
  integer_ops?: number;
}
interface Effective extends CommonEffective {
  onnxruntime?: {
    version: string;
    sessions: Record<string, Session>;
    precision: string;
    int8: { method: string; weight_type: string; cached: boolean } | null;
    onnx_dir: string;
  };
}

/** The file the UNet session must have loaded for a precision (beside the export's other networks). */
export const unetFile = (precision: string) => (precision === 'int8' ? 'unet-int8/model-int8.onnx' : 'unet/model.onnx');

const integerOps = (eff: Effective) => eff.onnxruntime?.sessions.unet?.integer_ops;

export const backend: Backend<typeof options, Effective> = {
  name: 'onnxruntime',
  title: 'ONNX Runtime (CPU execution provider) running the diffusers pipeline’s networks exported to ONNX',
  env: 'onnxruntime',
  // The ONNX export, and apart from it the int8 UNet's quantize_dynamic.
  oneOffTimings: ['export_s', 'quantize_s'],
  options,
  proveLoaded(o, eff, launcher) {
    const problems = proveScheduler(o.scheduler, eff);
    const ort = eff.onnxruntime;
    if (!ort) return [...problems, 'onnxruntime: worker reported no sessions'];
    const threads = o.intra_op_threads ?? launcher.threads;
    for (const name of SESSIONS) {
      const s = ort.sessions[name];
      if (!s) {
        problems.push(`onnxruntime: no ${name} session`);
        continue;
      }
      if (s.providers.length !== 1 || s.providers[0] !== PROVIDER) {
        problems.push(`providers: asked ${PROVIDER} only, ${name} uses ${s.providers.join(', ') || 'none'}`);
      }
      if (threads !== undefined && s.intra_op_threads !== threads) {
        problems.push(`intra_op_threads: asked ${threads}, ${name} has ${s.intra_op_threads}`);
      }
      const level = GRAPH_LEVELS[o.graph_optimization];
      if (s.graph_optimization !== level) {
        problems.push(`graph_optimization: asked ${level}, ${name} has ${s.graph_optimization}`);
      }
      const want = name === 'unet' ? unetFile(o.precision) : `${name}/model.onnx`;
      if (!s.file.path.endsWith(`/${want}`)) problems.push(`${name}: asked ${want}, the session loaded ${s.file.path}`);
    }
    const ints = integerOps(eff);
    if (ints === undefined) problems.push('precision: the worker did not count the UNet’s op types');
    else if (o.precision === 'int8' && !(ints > 0)) {
      problems.push(`precision: asked int8, the unet has no ${INTEGER_OPS.join('/')} nodes`);
    } else if (o.precision === 'fp32' && ints > 0) {
      problems.push(`precision: asked fp32, the unet has ${ints} integer nodes`);
    }
    return problems;
  },
  proveRuntime(_o, eff) {
    const rt = eff.runtime;
    if (!rt) return ['runtime: the worker did not report the UNet session’s calls'];
    if (rt.unet_calls < 1) return ['runtime: the UNet session never ran'];
    // Dynamic quantization computes in integers inside the graph; what it hands back is fp32 either way.
    return rt.unet_output_dtype === 'float32' ? [] : [`runtime: the UNet session returned ${rt.unet_output_dtype}`];
  },
  dtype: (eff): Dtype => ((integerOps(eff) ?? 0) > 0 ? 'int8' : 'fp32'),
  reference: (o) => ({ backend: 'torch', options: { scheduler: o.scheduler } }),
  describe(eff) {
    const ort = eff.onnxruntime;
    const unet = ort?.sessions.unet;
    if (!ort || !unet) return '–';
    // 0 threads: ONNX Runtime's own default (one per physical core).
    const threads = unet.intra_op_threads || 'default';
    const where = `ONNX Runtime ${ort.version}, ${threads} threads, ${unet.graph_optimization}`;
    if ((unet.integer_ops ?? 0) > 0) return `int8 dynamic UNet (${where}, ${unet.integer_ops} integer nodes)`;
    return `fp32 (${where})`;
  },
};
