// run.json: one self-describing file per run (machine, versions, config, raw samples), as asv does.
// This module is the only one that reads, validates, upgrades and writes it; every command that
// reads runs (report, compare, nightly, trend) goes through readRunFile or readHistory.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { CommonEffective, Dtype } from '../backends/types.ts';
import type { Channel } from '../envs/stacks.ts';
import { UserError } from '../errors.ts';
import { readProblem, readRegularFile, writeJsonAtomic } from '../files.ts';
import type { Machine } from '../machine.ts';
import type { SchedulerInfo } from '../provenance.ts';
import { type ExplainProfile, explainProfileSchema } from './explain.ts';
import type { PairedRatio } from './paired.ts';
import type { Stats } from './stats.ts';
import type { Throughput, Window } from './throughput.ts';

/**
 * 2: a rung's `config.env` names the environment it ran in (1: always its backend's), and a failed
 * toggle check keeps its problems in `toggle_problems`. 3: interleaved rounds (`rounds` of the run,
 * `rounds`, `processes` and `paired` of each rung); a file without them ran one round. Older files
 * are upgraded on read.
 */
export const SCHEMA_VERSION = 3;

/** A rung's worker in one round of an interleaved run. */
export interface RungRound {
  /** 0-based round. */
  round: number;
  /** Its slot in that round's order (0: first). */
  position: number;
  /** The worker's pid (the first instance's, for a rung of several). */
  pid: number;
  /** When its worker started (ISO time). */
  started: string;
  /** Its timed passes in this round (of every instance, pooled). */
  samples_s: number[];
  median_s: number;
  /** Seconds from its worker's start to its end: load, warm-up and passes. */
  wall_s: number;
  /** Peak RSS of its workers together (all instances at once). */
  peak_rss_bytes: number;
  /** Images/s of its instances together in this round (rungs of several instances). */
  images_per_s?: number;
}

/** One round of a run: the order its rungs ran in and the machine probe at its start. */
export interface RunRound {
  round: number;
  order: string[];
  started: string;
  finished?: string;
  /** GFLOP/s per dtype of the matrix-product probe just before the round's first rung. */
  probe?: Record<string, number>;
}

/** How a run was interleaved: what was asked, the rounds it ran, and why it stopped. */
export interface RunRounds {
  /** Seed of the shuffled orders (rounds 1, 2, ...; round 0 keeps the ladder's order). */
  seed: number;
  asked: { rounds: number; precision?: number; max_rounds?: number; budget_s?: number };
  done: RunRound[];
  /** Why no further round ran: rounds (as many as asked), precision, max-rounds, budget, deadline. */
  stopped?: 'rounds' | 'precision' | 'max-rounds' | 'budget' | 'deadline';
  /** Ratios that did not reach --precision, and why (too few rounds, noisy, bimodal). */
  imprecise?: { id: string; reference: string; why: string }[];
  /**
   * Peak RSS of all the workers alive at once (the rung's instances: one rung runs at a time, its
   * workers end before the next starts), over the whole run.
   */
  peak_rss_bytes?: number;
}

export interface RungResult {
  id: string;
  /** skipped: the backend cannot run on this machine (zentorch on an Intel CPU): not a failure. */
  status: 'ok' | 'failed' | 'running' | 'skipped';
  error?: string;
  /** Why a skipped rung was not run, in one line. */
  skipped?: string;
  /** What the toggle checks found when a toggle did not take effect (status failed, no figure). */
  toggle_problems?: string[];
  /** What was asked: the rung (backend, env, launcher, options), model and scenario. */
  config: Record<string, unknown>;
  /** What the worker saw from inside its process. */
  effective?: CommonEffective & Record<string, unknown>;
  samples_s: number[];
  stats?: Stats;
  timings?: Record<string, number>;
  compare_to?: string;
  /**
   * Its speed over the baseline's (and over `compare_to`'s): in a run of several rounds the paired
   * ratio (`paired`), else the ratio of the two medians.
   */
  speedup_vs_baseline?: number;
  speedup_vs_previous?: number;
  /** Its worker in each round of an interleaved run, in round order. */
  rounds?: RungRound[];
  /** How many worker processes its passes came from (rounds x instances). */
  processes?: number;
  /** Paired ratios over the rounds (runs of more than one round), with their intervals. */
  paired?: { vs_baseline?: PairedRatio; vs_previous?: PairedRatio };
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
  roofline?: {
    dtype: Dtype;
    flops: number;
    gflops: number;
    /** Absent when the rung ran above the measured peak (impossible: see `above_peak`). */
    pct_of_peak?: number;
    unet_gflops?: number;
    unet_pct_of_peak?: number;
    /** The rung achieved more than the measured peak of its dtype: the probe or the count was off. */
    above_peak?: true;
  };
  /**
   * A rung of several instances (`launcher.instances`): each worker's cores (read from inside it),
   * pid, threads, its own passes and their [start, end] on CLOCK_MONOTONIC. `samples_s` pools the
   * passes of all of them: the latency of one image while the others run.
   */
  instances?: {
    cores: number[];
    pid: number;
    threads?: number;
    samples_s: number[];
    windows: Window[];
    barrier_wait_s?: number;
  }[];
  /** Images per second of all instances together, over the window in which they all ran. */
  throughput?: Throughput;
  /** The controller's own cost while the worker measured, and the gap between its and the worker's job times. */
  overhead?: Record<string, number>;
  /** One UNet call profiled after the passes (--explain): ops and kernels by kind (results/explain.ts). */
  explain?: ExplainProfile;
}

/** An fp32 reference image made only for the quality guard (not a rung of the ladder). */
export interface ReferenceResult {
  id: string;
  scheduler: string;
  status: 'ok' | 'failed';
  image?: string;
  error?: string;
}

export type NightVerdict = 'regressed' | 'improved' | 'unchanged' | 'new' | 'failed' | 'insufficient' | 'unstable';

export interface MachineProbe {
  /** The backend whose worker probed (the ladder's first rung's): the sleep mock answers from a script. */
  backend: string;
  start?: { gflops: Record<string, number>; probes: Record<string, number[]>; at: string };
  end?: { gflops: Record<string, number>; probes: Record<string, number[]>; at: string };
  /** Per dtype, (end - start) / start: negative when the machine got slower during the run. */
  moved?: Record<string, number>;
}

export interface RungVerdict {
  id: string;
  verdict: NightVerdict;
  /**
   * What the verdict judged: `ratio`, the rung's paired ratio to the night's reference against the
   * earlier nights' (interleaved nights; the machine's drift cancels), or `time`, its own time.
   */
  by?: 'ratio' | 'time';
  ratio?: number;
  p?: number;
  detail?: string;
  /**
   * Beside a regression or an improvement: the packages of this rung's environment whose version
   * changed since the previous night ("openvino 2026.4.1 -> 2026.5.0"), top-level packages first.
   */
  versions?: string[];
}

export interface VersionChange {
  env: string;
  package: string;
  from?: string;
  to?: string;
}

export interface RunFile {
  schema_version: number;
  tool: { name: 'ladder'; version: string; git_revision?: string };
  command: string;
  /** The ladder the rungs came from: its first rung is the baseline; the article figures of every rung. */
  ladder?: {
    name: string;
    file: string;
    baseline: string;
    figures: Record<string, { seed_s?: number; published_s?: number }>;
  };
  started: string;
  finished?: string;
  machine: Machine;
  rungs: RungResult[];
  references?: ReferenceResult[];
  /** Each environment's key, channel (pinned, or latest: resolved afresh that day) and package versions. */
  environments?: Record<string, { key: string; channel?: Channel; packages: Record<string, string> }>;
  /** FLOPs of one image for the run's shapes and the machine's matrix-product peak per dtype. */
  roofline?: {
    flops: Record<string, number>;
    peaks_gflops: Record<string, number>;
    peak_cache: string;
    /** Peaks probed in this run (the others came from the cache): every probe's GFLOP/s and the seconds spent. */
    peak_probes?: Record<string, { gflops: number[]; seconds: number }>;
  };
  /** The machine's matrix-product rate at the start and the end of the run, and how much it moved. */
  machine_probe?: MachineProbe;
  /** A run a fleet job made (`ladder fleet submit`): the engine, its job id, the node, the fleet and class. */
  scheduler?: SchedulerInfo;
  /** The interleaved rounds: seed, orders, per-round probe, why the run stopped. */
  rounds?: RunRounds;
  /** Nightly runs only: the machine id, each rung's verdict against the previous nights, and package version changes. */
  nightly?: { machine_id: string; verdicts: RungVerdict[]; version_changes: VersionChange[] };
}

// What readers rely on is checked; everything else passes through untouched.
const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const rungSchema = z.looseObject({
  id: z.string(),
  status: z.enum(['ok', 'failed', 'running', 'skipped']),
  error: z.string().optional(),
  config: z.looseObject({}).default({}),
  effective: z.looseObject({}).nullish(),
  samples_s: z.array(finite).default([]),
  stats: z.looseObject({ median_s: finite, n: z.number() }).optional(),
  compare_to: z.string().optional(),
  // Read by the table, the best lines, compare and the reports: a string here was an internal error.
  speedup_vs_baseline: finite.optional(),
  speedup_vs_previous: finite.optional(),
  warnings: z.array(z.string()).optional(),
  skipped: z.string().optional(),
  quality: z.looseObject({ psnr_db: finite.nullable().optional() }).optional(),
  explain: explainProfileSchema.optional(),
});
const runSchema = z.looseObject({
  schema_version: z.number().int().min(1),
  tool: z.looseObject({ version: z.string() }),
  command: z.string(),
  ladder: z
    .looseObject({
      name: z.string(),
      baseline: z.string(),
      figures: z.record(z.string(), z.looseObject({})).default({}),
    })
    .optional(),
  started: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'is not a date'),
  finished: z.string().optional(),
  machine: z.looseObject({ isa: z.record(z.string(), z.boolean()).default({}) }),
  rungs: z.array(rungSchema),
  nightly: z
    .looseObject({
      machine_id: z.string(),
      verdicts: z.array(
        z.looseObject({
          id: z.string(),
          verdict: z.enum(['regressed', 'improved', 'unchanged', 'new', 'failed', 'insufficient', 'unstable']),
          ratio: finite.optional(),
          p: finite.optional(),
          detail: z.string().optional(),
          versions: z.array(z.string()).optional(),
        }),
      ),
      version_changes: z.array(z.looseObject({ env: z.string(), package: z.string() })).default([]),
    })
    .optional(),
});

/** Older files, brought to the current schema one version at a time. */
const UPGRADES: Record<number, (run: Record<string, unknown>) => void> = {
  1: (run) => {
    for (const r of run.rungs as { config?: Record<string, unknown> }[]) {
      if (r.config && r.config.env === undefined && typeof r.config.backend === 'string')
        r.config.env = r.config.backend;
    }
  },
  // A file of version 2 ran one round in the ladder's order: nothing to add, its absent `rounds` says so.
  2: () => {},
};

/** Validates and upgrades parsed JSON; the reason it is not a run file, in one line. */
export function parseRunFile(data: unknown): RunFile {
  const version = (data as { schema_version?: unknown } | null)?.schema_version;
  if (typeof version === 'number' && version > SCHEMA_VERSION) {
    throw new UserError(`schema_version ${version} is newer than this ladder reads (${SCHEMA_VERSION}): update ladder`);
  }
  const parsed = runSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    throw new UserError(`not a ladder run file: ${where}${issue.message}`);
  }
  const run = parsed.data as Record<string, unknown>;
  for (let v = parsed.data.schema_version; v < SCHEMA_VERSION; v++) UPGRADES[v]!(run);
  run.schema_version = SCHEMA_VERSION;
  return run as unknown as RunFile;
}

/** The run.json of a run directory (or the file itself). Anything wrong is the user's to fix: exit 2. */
export function readRunFile(arg: string): { file: string; run: RunFile } {
  let file = arg;
  let isDir: boolean;
  try {
    isDir = statSync(arg).isDirectory();
  } catch {
    throw new UserError(`no such run directory or file: ${arg}`);
  }
  if (isDir) file = path.join(arg, 'run.json');
  let text: string;
  try {
    text = readRegularFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT' ? `${arg} is not a run directory (no run.json in it)` : `${file}: ${readProblem(err)}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${file}: not valid JSON (${(err as Error).message.split('\n')[0]})`, { cause: err });
  }
  try {
    return { file, run: parseRunFile(data) };
  } catch (err) {
    throw new UserError(`${file}: ${(err as Error).message}`, { cause: err });
  }
}

export interface HistoryEntry {
  dir: string;
  run: RunFile;
}

/**
 * Every run of a machine's history (<machineDir>/<stamp>/run.json), oldest first, and the files
 * it skipped with the reason: one bad file never stops a night, a trend page or a report.
 */
export function readHistory(machineDir: string): { runs: HistoryEntry[]; skipped: { file: string; reason: string }[] } {
  const runs: HistoryEntry[] = [];
  const skipped: { file: string; reason: string }[] = [];
  if (!existsSync(machineDir)) return { runs, skipped };
  if (!statSync(machineDir).isDirectory()) {
    skipped.push({ file: machineDir, reason: 'not a folder of runs' });
    return { runs, skipped };
  }
  for (const name of readdirSync(machineDir).sort()) {
    const dir = path.join(machineDir, name);
    const file = path.join(dir, 'run.json');
    if (name.startsWith('.') || !existsSync(file)) continue;
    try {
      runs.push({ dir, run: readRunFile(dir).run });
    } catch (err) {
      skipped.push({ file, reason: (err as Error).message.replace(`${file}: `, '') });
    }
  }
  runs.sort((a, b) => Date.parse(a.run.started) - Date.parse(b.run.started));
  return { runs, skipped };
}

export function writeRunFile(dir: string, run: RunFile): void {
  writeJsonAtomic(path.join(dir, 'run.json'), run);
}
