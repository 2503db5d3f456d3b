// Compares what a rung asked for with what the worker reports it really has. Any difference means
// the toggle did not take effect, and the rung's figure must not be reported.
import type { Rung } from '../rungs/ladder.ts';

interface Component {
  params: number;
  param_dtypes: Record<string, number>;
  spatial_convs: number;
  channels_last_convs: number;
  ipex_modules?: number;
}
interface Submodel {
  inputs: { name: string; shape: string; static: boolean }[];
  precision: string;
  threads?: number;
}
export interface Effective {
  backend?: string;
  scheduler?: string;
  components?: Record<string, Component>;
  torch_threads?: number;
  allocator?: { name: string; mapped: string[]; ld_preload: string; malloc_conf: string; opts?: Record<string, unknown> };
  cpu?: { affinity: number[] };
  openvino?: { submodels: Record<string, Submodel> };
  runtime?: { autocast_dtype: string | null; unet_output_dtype: string | null; unet_calls: number };
}

const SCHEDULER_CLASSES: Record<string, string> = { dpm: 'DPMSolverMultistepScheduler' };
// Components the article converts; the safety checker is optional in a user's model.
const TORCH_COMPONENTS = ['unet', 'vae', 'text_encoder', 'safety_checker'];

export function parseCores(list: string): number[] {
  const out = new Set<number>();
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a!; c <= (b ?? a!); c++) out.add(c);
  }
  return [...out].sort((x, y) => x - y);
}

const dominant = (dtypes: Record<string, number>) => Object.entries(dtypes).sort((a, b) => b[1] - a[1])[0]?.[0];

/** Differences visible right after load (allocator, threads, binding, dtypes, formats, shapes). */
export function verifyLoaded(rung: Rung, eff: Effective): string[] {
  const problems: string[] = [];
  const L = rung.launcher;
  const alloc = eff.allocator;
  if (alloc && alloc.name !== L.allocator) {
    problems.push(`allocator: asked ${L.allocator}, worker has ${alloc.name} mapped (LD_PRELOAD=${alloc.ld_preload || 'unset'})`);
  }
  if (L.allocator === 'jemalloc' && L.malloc_conf && alloc?.name === 'jemalloc') {
    const want = L.malloc_conf.replace(/\s+/g, '');
    if (alloc.malloc_conf !== want) problems.push(`MALLOC_CONF: asked ${want}, worker sees ${alloc.malloc_conf || 'unset'}`);
    for (const [opt, value] of Object.entries(alloc.opts ?? {})) {
      if (opt === 'oversize_threshold') continue;  // jemalloc rounds it down to a size class (1 reads back as 0)
      const asked = want.split(',').map((kv) => kv.split(':')).find(([k]) => k === opt)?.[1];
      if (asked !== undefined && String(value) !== asked) problems.push(`jemalloc opt.${opt}: asked ${asked}, jemalloc reports ${String(value)}`);
    }
  }
  if (L.threads !== undefined) {
    if (eff.torch_threads !== undefined && eff.torch_threads !== L.threads) problems.push(`threads: asked ${L.threads}, torch uses ${eff.torch_threads}`);
    for (const [name, sub] of Object.entries(eff.openvino?.submodels ?? {})) {
      if (sub.threads !== undefined && sub.threads !== L.threads) problems.push(`threads: asked ${L.threads}, OpenVINO ${name} uses ${sub.threads}`);
    }
  }
  if (L.bind && L.bind !== 'none' && L.cores && eff.cpu) {
    const want = parseCores(L.cores).join(',');
    if (eff.cpu.affinity.join(',') !== want) problems.push(`binding: asked cores ${want}, worker runs on ${eff.cpu.affinity.join(',')}`);
  }
  const o = rung.options;
  if (o.scheduler && o.scheduler !== 'default' && eff.scheduler !== SCHEDULER_CLASSES[o.scheduler]) {
    problems.push(`scheduler: asked ${SCHEDULER_CLASSES[o.scheduler]}, pipeline has ${eff.scheduler}`);
  }
  if (eff.components && rung.backend !== 'openvino') {
    for (const name of TORCH_COMPONENTS) {
      const c = eff.components[name];
      if (!c) continue;
      const dtype = dominant(c.param_dtypes);
      // ipex.optimize(dtype=bf16) converts weights; plain autocast keeps fp32 weights and is proven at run time.
      if (o.ipex && o.dtype === 'bf16' && name !== 'safety_checker' && !((c.param_dtypes.bfloat16 ?? 0) > 0)) problems.push(`dtype: asked bf16, ${name} has no bfloat16 weights (${JSON.stringify(c.param_dtypes)})`);
      if ((o.dtype ?? 'fp32') === 'fp32' && dtype !== 'float32') problems.push(`dtype: asked fp32, ${name} is mostly ${dtype}`);
      if (o.channels_last && c.spatial_convs > 0 && c.channels_last_convs !== c.spatial_convs) {
        problems.push(`channels_last: ${name} has ${c.channels_last_convs} of ${c.spatial_convs} convolutions in channels_last`);
      }
      if (o.ipex && name !== 'safety_checker' && !(c.ipex_modules && c.ipex_modules > 0)) problems.push(`ipex: ${name} has no IPEX-optimized modules`);
    }
  }
  if (rung.backend === 'openvino') {
    const subs = Object.entries(eff.openvino?.submodels ?? {});
    if (!subs.length) problems.push('openvino: worker reported no compiled models');
    for (const [name, sub] of subs) {
      const dynamic = sub.inputs.filter((i) => !i.static);
      if (o.static_shape && dynamic.length) problems.push(`static shape: ${name} input ${dynamic[0]!.name} is ${dynamic[0]!.shape}`);
      if (o.precision && o.precision !== 'auto' && sub.precision !== o.precision) problems.push(`precision: asked ${o.precision}, ${name} runs ${sub.precision}`);
    }
    const unet = eff.openvino?.submodels.unet;
    if (o.static_shape === false && unet && unet.inputs.every((i) => i.static)) problems.push('dynamic shape: the unet is static');
  }
  return problems;
}

/** Differences seen only while running (the dtype the UNet really computes in). */
export function verifyRuntime(rung: Rung, eff: Effective): string[] {
  const rt = eff.runtime;
  if (rung.backend === 'openvino') return [];
  if (!rt) return ['runtime: the worker did not report the dtype the UNet ran in'];
  if (rt.unet_calls < 1) return ['runtime: the UNet was never called'];
  const want = rung.options.dtype === 'bf16' ? 'bfloat16' : 'float32';
  const got = rt.autocast_dtype ?? rt.unet_output_dtype;
  return got === want ? [] : [`runtime dtype: asked ${want}, the UNet ran in ${String(got)}`];
}
