// Plain PyTorch with torch.compile (inductor), Intel's successor to IPEX: the torch backend's pipeline
// with the UNet (optionally vae.decode) compiled with static shapes, in the torch environment.
import { z } from 'zod';
import { proveRuntimeDtype, proveScheduler, proveTorchComponents, scheduler, torchDtype } from './common.ts';
import type { Backend, CommonEffective, Runtime } from './types.ts';

const options = z
  .object({
    scheduler,
    dtype: z
      .enum(['fp32', 'bf16'])
      .default('bf16')
      .describe('bf16: the pipeline runs under torch.autocast("cpu", bf16), compiled into the graph'),
    channels_last: z.boolean().default(true).describe('convert the components to the channels_last memory format'),
    mode: z
      .enum(['default', 'max-autotune'])
      .default('default')
      .describe('torch.compile mode (max-autotune also benchmarks GEMM templates: much longer compile)'),
    freezing: z
      .boolean()
      .default(true)
      .describe(
        'torch._inductor.config.freezing: weights folded in as constants (its graphs bypass the FX graph cache)',
      ),
    fullgraph: z.boolean().default(true).describe('torch.compile(fullgraph=True): a graph break is an error'),
    components: z
      .enum(['unet', 'unet+vae'])
      .default('unet')
      .describe('what is compiled: the UNet, or the UNet and vae.decode'),
  })
  .strict();

type CacheCounts = { hit: number; miss: number; bypass: number };

/** What the worker reports of torch.compile (counters are dynamo's and inductor's own). */
export interface CompileReport {
  mode: string;
  freezing: boolean;
  fullgraph: boolean;
  dynamic: boolean;
  /** The parts torch.compile really wrapped ('unet', 'vae_decode'). */
  compiled: string[];
  graphs: number;
  graph_breaks: number;
  graph_break_reasons: Record<string, number>;
  fx_graph_cache: CacheCounts;
  aot_autograd_cache: CacheCounts;
  cache_dir: string | null;
  /** The first call at the run's shapes in load(): compile plus one forward. */
  compile_s: number | null;
}

export interface Effective extends CommonEffective {
  compile?: CompileReport;
  /** Graphs compiled by the pipeline's warm-up call (0: load compiled what it needs) and in the timed passes. */
  runtime?: (Runtime & { warmup_compiles?: number; recompiles?: number }) | null;
}

type Options = z.infer<typeof options>;

function proveCompile(o: Options, eff: Effective): string[] {
  const c = eff.compile;
  if (!c) return ['torch.compile: the worker did not report what it compiled'];
  const problems: string[] = [];
  const want = o.components === 'unet' ? ['unet'] : ['unet', 'vae_decode'];
  const missing = want.filter((p) => !c.compiled.includes(p));
  if (missing.length)
    problems.push(`torch.compile: ${missing.join(', ')} not compiled (torch.compile returned it as is)`);
  if (!(c.graphs >= 1)) problems.push('torch.compile: no graph was compiled');
  if (o.fullgraph && c.graph_breaks !== 0)
    problems.push(`torch.compile: ${c.graph_breaks} graph breaks with fullgraph`);
  if (c.mode !== o.mode) problems.push(`torch.compile: asked mode ${o.mode}, worker used ${c.mode}`);
  if (c.freezing !== o.freezing) problems.push(`freezing: asked ${o.freezing}, inductor has ${c.freezing}`);
  return problems;
}

export const backend: Backend<typeof options, Effective> = {
  name: 'torch-compile',
  title: 'diffusers on PyTorch with torch.compile (inductor, static shapes), the successor to IPEX',
  env: 'torch',
  options,
  proveLoaded: (o, eff) => [
    ...proveScheduler(o.scheduler, eff),
    ...proveTorchComponents(o, eff),
    ...proveCompile(o, eff),
  ],
  proveRuntime: (o, eff) => {
    const n = eff.runtime?.recompiles;
    return [
      ...proveRuntimeDtype(o.dtype, eff),
      ...(n !== undefined && n !== 0 ? [`torch.compile: ${n} graphs compiled during the timed passes`] : []),
    ];
  },
  dtype: torchDtype,
  reference: (o) => ({ backend: 'torch', options: { scheduler: o.scheduler } }),
  describe: (eff) => {
    const c = eff.compile;
    if (!c) return `${eff.runtime?.unet_output_dtype ?? '–'} (torch.compile)`;
    // Frozen graphs hold mkldnn-packed weights, which the FX graph cache cannot pickle: say when it was bypassed.
    const cache =
      c.fx_graph_cache.bypass > 0 ? ', FX graph cache bypassed' : c.fx_graph_cache.hit > 0 ? ', cached' : '';
    const how = `torch.compile ${c.mode === 'default' ? 'inductor' : c.mode}${c.freezing ? ', freezing' : ''}${cache}`;
    return `${eff.runtime?.unet_output_dtype ?? '–'} (${how})`;
  },
};
