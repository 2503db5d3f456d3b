// The contract of a backend on the controller side. A backend is one module in src/backends/ (and
// one in python/ladder_worker/backends/): what it accepts, where it runs, how its toggles are
// proven from what the worker reports, what dtype it really computes in, and how reports show it.
import type { z } from 'zod';
import type { LaunchConfig } from '../launcher/config.ts';
import type { Machine } from '../machine.ts';

export type Dtype = 'fp32' | 'bf16' | 'int8';

/** Per component, as the worker summarizes a torch module. */
export interface ComponentSummary {
  params: number;
  param_dtypes: Record<string, number>;
  spatial_convs: number;
  channels_last_convs: number;
  ipex_modules?: number;
}

/** What the UNet was seen doing during the warm-up (torch-based backends). */
export interface Runtime {
  unet_calls: number;
  autocast_dtype: string | null;
  unet_output_dtype: string | null;
}

/** The part of `effective` every worker reports, whatever its backend. */
export interface CommonEffective {
  backend?: string;
  scheduler?: string;
  components?: Record<string, ComponentSummary>;
  torch_threads?: number;
  model?: { spec?: string; kind?: string; name?: string; path?: string; real_weights?: boolean; note?: string };
  packages?: Record<string, string>;
  python?: string;
  cpu?: { affinity: number[]; model?: string };
  allocator?: {
    name: string;
    mapped: string[];
    ld_preload: string;
    malloc_conf: string;
    opts?: Record<string, unknown>;
  };
  threads?: Record<string, unknown>;
  env?: Record<string, string>;
  runtime?: Runtime | null;
  /** Load-side times reported apart from latency (export, compile...). */
  timings?: Record<string, number>;
}

// Each backend narrows its own options (S) and what its worker reports (E).
export interface Backend<S extends z.ZodObject = z.ZodObject, E extends CommonEffective = any> {
  name: string;
  /** One line: what the backend is (for `ladder rungs` and reports). */
  title: string;
  /** The environment (envs/<name>) its worker runs in unless a rung sets `env:`. */
  env: string;
  /** Its options: types, allowed values and defaults. Unknown keys are refused. */
  options: S;
  /** Problems visible right after load (dtypes, formats, shapes...): empty when every toggle took effect. */
  proveLoaded(o: z.infer<S>, eff: E, launcher: LaunchConfig): string[];
  /** Problems seen only while running (the dtype the UNet really computed in). */
  proveRuntime(o: z.infer<S>, eff: E): string[];
  /** The dtype its heavy math really ran in, read from what the worker reported. */
  dtype(eff: E): Dtype;
  /**
   * How to get the fp32 image of the same scheduler that this rung's image is judged against:
   * `self` when the rung is itself such a reference, else the backend and options of one.
   */
  reference(o: z.infer<S>): 'self' | { backend: string; options: Record<string, unknown> };
  /**
   * Why this backend cannot run on this machine (one line), or undefined. A rung on it is then
   * skipped, not failed, and its environment is not provisioned.
   */
  unsupported?(machine: Machine): string | undefined;
  /** How the report shows what the rung really ran with ("bf16 (OpenVINO), static shapes"). */
  describe(eff: E): string;
  /**
   * Load timings (seconds, keys of the worker's `timings`) spent once per machine and cached after:
   * exports, quantization, conversions. A round's cost estimate (--budget, the time left) leaves them
   * out of the round they were spent in. Keys must not overlap (one that includes another: only it).
   */
  oneOffTimings?: readonly string[];
}
