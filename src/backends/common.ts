// Pieces several backends share: the scheduler option and the proofs of a PyTorch pipeline.
import { z } from 'zod';
import { SCHEDULERS } from '../protocol/scenario.ts';
import type { CommonEffective, Dtype } from './types.ts';

/** The scheduler swapped into the pipeline, by the names protocol/scenario.json defines. */
export const scheduler = z
  .enum(Object.keys(SCHEDULERS) as [string, ...string[]])
  .default('default')
  .describe('scheduler swapped into the pipeline (default: the model folder’s own, PNDM for SD 1.5)');

export function proveScheduler(asked: string, eff: CommonEffective): string[] {
  const want = SCHEDULERS[asked];
  if (!want || eff.scheduler === want) return [];
  return [`scheduler: asked ${want}, pipeline has ${eff.scheduler}`];
}

// Components the article converts; the safety checker is optional in a user's model.
const TORCH_COMPONENTS = ['unet', 'vae', 'text_encoder', 'safety_checker'];

const dominant = (dtypes: Record<string, number>) => Object.entries(dtypes).sort((a, b) => b[1] - a[1])[0]?.[0];

/** Weights and memory formats of a PyTorch pipeline's components, against the options asked. */
export function proveTorchComponents(
  o: { dtype: string; channels_last: boolean; ipex?: boolean },
  eff: CommonEffective,
): string[] {
  const problems: string[] = [];
  for (const name of TORCH_COMPONENTS) {
    const c = eff.components?.[name];
    if (!c) continue;
    // ipex.optimize(dtype=bf16) converts weights; plain autocast keeps fp32 weights and is proven at run time.
    if (o.ipex && o.dtype === 'bf16' && name !== 'safety_checker' && !((c.param_dtypes.bfloat16 ?? 0) > 0)) {
      problems.push(`dtype: asked bf16, ${name} has no bfloat16 weights (${JSON.stringify(c.param_dtypes)})`);
    }
    const dtype = dominant(c.param_dtypes);
    if (o.dtype === 'fp32' && dtype !== 'float32') problems.push(`dtype: asked fp32, ${name} is mostly ${dtype}`);
    if (o.channels_last && c.spatial_convs > 0 && c.channels_last_convs !== c.spatial_convs) {
      problems.push(
        `channels_last: ${name} has ${c.channels_last_convs} of ${c.spatial_convs} convolutions in channels_last`,
      );
    }
    if (o.ipex && name !== 'safety_checker' && !(c.ipex_modules && c.ipex_modules > 0)) {
      problems.push(`ipex: ${name} has no IPEX-optimized modules`);
    }
  }
  return problems;
}

/** The dtype the UNet computed in during the warm-up, as the worker's forward hook saw it. */
export function runtimeDtype(eff: CommonEffective): string | null | undefined {
  return eff.runtime ? (eff.runtime.autocast_dtype ?? eff.runtime.unet_output_dtype) : undefined;
}

export function proveRuntimeDtype(asked: string, eff: CommonEffective): string[] {
  const rt = eff.runtime;
  if (!rt) return ['runtime: the worker did not report the dtype the UNet ran in'];
  if (rt.unet_calls < 1) return ['runtime: the UNet was never called'];
  const want = asked === 'bf16' ? 'bfloat16' : 'float32';
  const got = runtimeDtype(eff);
  return got === want ? [] : [`runtime dtype: asked ${want}, the UNet ran in ${String(got)}`];
}

export const torchDtype = (eff: CommonEffective): Dtype => (runtimeDtype(eff) === 'bfloat16' ? 'bf16' : 'fp32');
