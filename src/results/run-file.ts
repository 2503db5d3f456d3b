// run.json: one self-describing file per run (machine, versions, config, raw samples), as asv does.
import { execaSync } from 'execa';
import { mkdirSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../paths.ts';
import type { Machine } from './machine.ts';
import type { Stats } from './stats.ts';

export const SCHEMA_VERSION = 1;

export interface RungResult {
  id: string;
  status: 'ok' | 'failed' | 'running';
  error?: string;
  config: Record<string, unknown>;
  effective?: Record<string, unknown>;
  samples_s: number[];
  stats?: Stats;
  timings?: Record<string, number>;
  compare_to?: string;
  speedup_vs_baseline?: number;
  speedup_vs_previous?: number;
  article?: { seed_s?: number; published_s?: number };
  /** Why a figure may not be trusted (spread too wide, outlying passes). */
  warnings?: string[];
  /** Final image of the last pass (.npy, relative to the run directory), for the quality guard. */
  image?: string;
  quality?: { reference: string; psnr_db: number | null; max_abs_diff: number; flagged: boolean };
  /** Per pass: time in text encoding, UNet (and each UNet call), VAE decode, safety checker, the rest. */
  components?: unknown[];
  breakdown?: Record<string, number>;
  /** Achieved GFLOP/s of the image and of the UNet, and their share of the peak for the rung's dtype. */
  roofline?: { dtype: string; flops: number; gflops: number; pct_of_peak: number; unet_gflops?: number; unet_pct_of_peak?: number };
  /** The controller's own cost while the worker measured, and the gap between its and the worker's job times. */
  overhead?: Record<string, number>;
}

/** An fp32 torch reference image made only for the quality guard (not a rung of the ladder). */
export interface ReferenceResult {
  id: string;
  scheduler: string;
  status: 'ok' | 'failed';
  image?: string;
  error?: string;
}

export interface RunFile {
  schema_version: number;
  tool: { name: 'ladder'; version: string; git_revision?: string };
  command: string;
  /** The ladder the rungs came from: its first rung is the baseline; the article figures of every rung. */
  ladder?: { name: string; file: string; baseline: string; figures: Record<string, { seed_s?: number; published_s?: number }> };
  started: string;
  finished?: string;
  machine: Machine;
  rungs: RungResult[];
  references?: ReferenceResult[];
  /** Each environment the run used: its key and the version of every package in it. */
  environments?: Record<string, { key: string; packages: Record<string, string> }>;
  /** FLOPs of one image for the run's shapes and the machine's matrix-product peak per dtype. */
  roofline?: { flops: Record<string, number>; peaks_gflops: Record<string, number>; peak_cache: string };
  /** Nightly runs only: the machine id, each rung's verdict against the previous nights, and package version changes. */
  nightly?: {
    machine_id: string;
    verdicts: { id: string; verdict: 'regressed' | 'improved' | 'unchanged' | 'new' | 'failed' | 'insufficient'; ratio?: number; p?: number; detail?: string }[];
    version_changes: { env: string; package: string; from?: string; to?: string }[];
  };
}

export function gitRevision(): string | undefined {
  try {
    return execaSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot }).stdout.trim();
  } catch {
    return undefined;
  }
}

/** Write then rename: a killed run leaves the previous complete file, never half of one. */
export function writeJsonAtomic(file: string, data: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeFileSync(fd, `${JSON.stringify(data, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
