// Runs rungs one at a time, each in a fresh worker, and keeps run.json and report.md current after
// every rung, so a crash or Ctrl-C never loses what was already measured.
import path from 'node:path';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import PQueue from 'p-queue';
import { RunError, UserError } from '../errors.ts';
import { provision } from '../envs/provision.ts';
import { describeStack, MARKER } from '../envs/stacks.ts';
import { launchPlan } from '../launcher/launch.ts';
import { cacheRoot } from '../paths.ts';
import { machine } from '../results/machine.ts';
import { renderReport } from '../results/report.ts';
import { writeReports } from '../results/html.ts';
import { placeOnRoofline } from '../results/roofline.ts';
import { gitRevision, SCHEMA_VERSION, writeJsonAtomic, type RunFile, type RungResult } from '../results/run-file.ts';
import { spreadWarning, stats } from '../results/stats.ts';
import { compareImages, readNpy } from '../results/quality.ts';
import type { Ladder, Rung } from '../rungs/ladder.ts';
import type { Scenario } from '../rungs/settings.ts';
import { WorkerSession } from '../worker/session.ts';
import type { Message } from '../protocol/wire.ts';
import { verifyLoaded, verifyRuntime, type Effective } from './verify.ts';

export interface RunSettings {
  model: string;
  scenario: Scenario;
  outDir: string;
  command: string;
  heartbeatTimeoutMs?: number;
  verbose?: boolean;
  /** Overrides every rung's thread count. */
  threads?: number;
  /** Count FLOPs and probe the machine's peak after the rungs (default on). */
  roofline?: boolean;
  /** Quality guard: a rung whose image is below this PSNR against its fp32 reference is flagged. */
  minPsnrDb?: number;
}

export const DEFAULT_MIN_PSNR_DB = 20;

export type Log = (line: string) => void;

/** A toggle that did not take effect: the rung fails with the differences, never with a figure. */
export class ToggleError extends RunError {
  constructor(rung: string, readonly problems: string[]) {
    super(`rung ${rung}: toggle did not take effect: ${problems.join('; ')}`);
  }
}

const fmt = (s: number) => `${s.toFixed(3)} s`;

function describeHello(hello: Message): string {
  const pkgs = hello.packages as Record<string, string>;
  const alloc = hello.allocator as { name: string };
  const threads = hello.threads as Record<string, unknown>;
  return `worker pid ${String(hello.pid)}, python ${String(hello.python)}, torch ${pkgs.torch ?? '-'}, diffusers ${pkgs.diffusers ?? '-'}, allocator ${alloc.name}, ${String(threads.torch_intra_op ?? '?')} threads`;
}

function describeParams(effective: Record<string, unknown>): string {
  const comps = (effective.components ?? {}) as Record<string, { params: number }>;
  return Object.entries(comps).map(([k, v]) => `${k} ${(v.params / 1e6).toFixed(1)}M`).join(', ');
}

export function withThreads(rung: Rung, threads?: number): Rung {
  return threads === undefined ? rung : { ...rung, launcher: { ...rung.launcher, threads } };
}

/** A fresh worker for a rung, in the rung's environment (provisioned if needed). */
function openSession(rung: Rung, settings: RunSettings, log: Log): Promise<WorkerSession> {
  return provision(rung.backend, log).then((stack) =>
    WorkerSession.start({
      rung: rung.id,
      plan: (endpoint) => launchPlan(stack.python, rung.launcher, endpoint, rung.id),
      heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
      verbose: settings.verbose,
    }),
  );
}

const MODELS_DIR = () => path.join(cacheRoot(), 'models');

/** Runs one rung in a fresh worker, proving its toggles; throws RunError/UserError on failure. */
export async function runRung(rung: Rung, settings: RunSettings, log: Log, slot: RungResult): Promise<void> {
  const t0 = Date.now();
  const session = await openSession(rung, settings, log);
  try {
    log(`  ${describeHello(session.hello)}`);
    let measured = 0;
    const progress = (m: Message) => {
      if (m.stage === 'pass') {
        // The worker batches pass times (at most a message a second): one line per pass all the same.
        const batch = (m.samples as number[] | undefined) ?? [Number(m.seconds)];
        const last = Number(m.index);
        for (const [k, seconds] of batch.entries()) {
          const index = last - batch.length + 1 + k;
          measured += seconds;
          const left = Math.max(0, Number(m.total) - index) * (measured / index);
          log(`  pass ${index}/${String(m.total)}  ${fmt(seconds)}${left > 0 ? `  (about ${Math.ceil(left)} s left in this rung)` : ''}`);
        }
      }
      else if (m.message) log(`  ${String(m.message)}${m.seconds !== undefined ? ` (${fmt(Number(m.seconds))})` : ''}`);
    };
    const loadWall0 = performance.now();
    const loaded = await session.job('load', { model: settings.model, cache_dir: MODELS_DIR(), backend: rung.backend, options: { ...rung.options, scenario: settings.scenario } }, progress);
    const loadGapMs = performance.now() - loadWall0 - Number(loaded.job_s) * 1000;
    const effective: Record<string, unknown> = {
      ...(loaded.effective as Record<string, unknown>),
      model: loaded.model,
      packages: session.hello.packages,
      python: session.hello.python,
      cpu: session.hello.cpu,
      allocator: loaded.allocator,
      threads: loaded.threads,
      env: session.hello.env,
    };
    slot.effective = effective;
    // Export, reshape and compile (OpenVINO) are reported apart from the per-image latency.
    const backendTimings = ((effective.openvino as { timings?: Record<string, number> } | undefined)?.timings) ?? {};
    slot.timings = { startup_s: Number(loaded.startup_s), resolve_model_s: Number(loaded.resolve_s), load_s: Number(loaded.load_s), ...backendTimings };
    log(`  loaded in ${fmt(Number(loaded.load_s))}: ${describeParams(effective)}`);
    const before = verifyLoaded(rung, effective as Effective);
    if (before.length) throw new ToggleError(rung.id, before);  // no point measuring a rung that isn't what it says

    const image = path.join(settings.outDir, 'images', `${rung.id}.npy`);
    mkdirSync(path.dirname(image), { recursive: true });
    // Nothing else runs in the controller while the worker measures: only this job's messages.
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    const bench = await session.job('bench', { scenario: { ...settings.scenario, image_path: image } }, progress);
    const wall = (performance.now() - wall0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    effective.runtime = bench.runtime;
    slot.samples_s = bench.samples_s as number[];
    slot.image = path.relative(settings.outDir, image);
    slot.timings = { ...slot.timings, warmup_s: Number(bench.warmup_s), wall_s: (Date.now() - t0) / 1000, peak_rss_bytes: Number(bench.peak_rss_bytes) };
    measured = slot.samples_s.reduce((a, b) => a + b, 0);
    slot.overhead = {
      controller_cpu_s: (cpu.user + cpu.system) / 1e6,
      controller_cpu_pct_of_passes: (100 * (cpu.user + cpu.system)) / 1e6 / measured,
      bench_job_gap_ms: (wall - Number(bench.job_s)) * 1000,
      load_job_gap_ms: loadGapMs,
    };
    slot.components = bench.components as PassComponents[];
    slot.breakdown = summarizeComponents(bench.components as PassComponents[], slot.samples_s);
    const after = verifyRuntime(rung, effective as Effective);
    if (after.length) throw new ToggleError(rung.id, after);
    slot.stats = stats(slot.samples_s);
    const st = slot.stats;
    // Below 6 passes no pair of order statistics reaches 95%: say what the interval really covers.
    const ci = st.ci95_level >= 0.95 ? '95% CI' : `${Math.round(st.ci95_level * 100)}% CI`;
    log(`  median ${fmt(st.median_s)} (${ci} ${fmt(st.ci95_median_s[0])}–${fmt(st.ci95_median_s[1])}, mean ${fmt(st.mean_s)}, stdev ${fmt(st.stdev_s)}, min ${fmt(st.min_s)}, max ${fmt(st.max_s)}) over ${st.n} passes`);
    const warning = spreadWarning(st);
    if (warning) {
      slot.warnings = [warning];
      log(`  warning: ${warning}`);
    }
    await session.shutdown();
    slot.status = 'ok';
  } finally {
    session.kill();
  }
}

export interface PassComponents {
  text_encoding_s: number;
  unet_s: number;
  vae_decode_s: number;
  safety_checker_s: number;
  rest_s: number;
  unet_steps_s: number[];
}

/** Median of each part over the passes, and the median UNet step. */
export function summarizeComponents(passes: PassComponents[], samples: number[]): Record<string, number> {
  const med = (xs: number[]) => stats(xs).median_s;
  const keys = ['text_encoding_s', 'unet_s', 'vae_decode_s', 'safety_checker_s', 'rest_s'] as const;
  const out: Record<string, number> = Object.fromEntries(keys.map((k) => [k, med(passes.map((p) => p[k]))]));
  out.unet_step_s = med(passes.flatMap((p) => p.unet_steps_s));
  out.unet_calls_per_pass = passes[0]?.unet_steps_s.length ?? 0;
  // Share of the pass that no part accounts for (scheduler, latents, image conversion).
  out.rest_pct = (100 * med(passes.map((p, i) => p.rest_s / samples[i]!)));
  return out;
}

/** Speedups against the baseline (first rung) and each rung's reference rung, from medians. */
function addSpeedups(run: RunFile): void {
  const median = (id?: string) => run.rungs.find((r) => r.id === id && r.status === 'ok')?.stats?.median_s;
  const base = run.ladder?.baseline;  // not measured in this run (--only): no speedup against it
  for (const r of run.rungs) {
    const m = r.stats?.median_s;
    if (r.status !== 'ok' || m === undefined) continue;
    const b = median(base);
    const p = median(r.compare_to ?? base);
    r.speedup_vs_baseline = b !== undefined ? b / m : undefined;
    r.speedup_vs_previous = p !== undefined && r.id !== base ? p / m : undefined;
  }
}

/**
 * The work of one image for the run's shapes, and this machine's matrix-product peak per dtype
 * (probed in the torch environment, cached per machine and environment): each rung's achieved
 * GFLOP/s, its UNet's, and their share of the peak for the rung's dtype.
 */
async function roofline(run: RunFile, settings: RunSettings, log: Log): Promise<void> {
  const ok = run.rungs.filter((r) => r.status === 'ok' && r.stats);
  if (!ok.length) return;
  const ref: Rung = { id: 'roofline', description: 'FLOP count and peak probe', backend: 'torch', launcher: { allocator: 'default' }, options: {} };
  const stack = await describeStack('torch');
  const m = run.machine;
  const machineKey = createHash('sha256').update(JSON.stringify([m.cpu_model, m.logical_cpus, m.isa, m.memory_bytes])).digest('hex').slice(0, 12);
  const cacheFile = path.join(cacheRoot(), 'peaks', `${machineKey}-torch-${stack.key}.json`);
  const cached: Record<string, number> = existsSync(cacheFile) ? JSON.parse(readFileSync(cacheFile, 'utf8')) : {};
  const needed = (['fp32', 'bf16'] as const).filter((d) => cached[d] === undefined);
  log(`roofline: counting FLOPs for the run's shapes${needed.length ? ` and probing the ${needed.join('/')} matrix-product peak` : ''}`);
  let session: WorkerSession | undefined;
  try {
    session = await openSession(ref, settings, log);
    await session.job('load', { model: settings.model, cache_dir: MODELS_DIR(), backend: 'torch', options: {} });
    const res = await session.job('roofline', { scenario: settings.scenario, peaks: needed });
    await session.shutdown();
    const peaks = { ...cached, ...(res.peaks_gflops as Record<string, number>) };
    mkdirSync(path.dirname(cacheFile), { recursive: true });
    writeJsonAtomic(cacheFile, peaks);
    const flops = res.flops as Record<string, number>;
    run.roofline = { flops, peaks_gflops: peaks, peak_cache: cacheFile };
    placeOnRoofline(run);
  } catch (err) {
    log(`  roofline skipped: ${(err as Error).message}`);
  } finally {
    session?.kill();
  }
}

const isReference = (r: Rung) => r.backend === 'torch' && (r.options.dtype ?? 'fp32') === 'fp32';

/**
 * Compares every measured rung's final image with an fp32 torch image of the same scheduler and size,
 * made from the same seed and initial latents: a ladder rung that qualifies (the baseline), else a
 * one-pass reference run made here.
 */
async function qualityGuard(run: RunFile, rungs: Rung[], settings: RunSettings, log: Log): Promise<void> {
  run.references = [];
  const refImage = new Map<string, string>();
  for (const [i, slot] of run.rungs.entries()) {
    const sched = rungs[i]!.options.scheduler ?? 'default';
    if (slot.status === 'ok' && slot.image && isReference(rungs[i]!) && !refImage.has(sched)) refImage.set(sched, slot.image);
  }
  for (const [i, slot] of run.rungs.entries()) {
    const sched = rungs[i]!.options.scheduler ?? 'default';
    if (slot.status !== 'ok' || !slot.image || refImage.has(sched)) continue;
    const ref: Rung = { id: `reference-${sched}`, description: `fp32 torch reference image, scheduler ${sched}`, backend: 'torch', launcher: { allocator: 'default' }, options: { scheduler: sched } };
    log(`quality reference ${ref.id}: ${ref.description}`);
    const refSlot: RungResult = { id: ref.id, status: 'running', config: {}, samples_s: [] };
    try {
      await runRung(ref, { ...settings, scenario: { ...settings.scenario, passes: 1, warmup_steps: 0 } }, log, refSlot);
      refImage.set(sched, refSlot.image!);
      run.references.push({ id: ref.id, scheduler: sched, status: 'ok', image: refSlot.image });
    } catch (err) {
      run.references.push({ id: ref.id, scheduler: sched, status: 'failed', error: (err as Error).message });
      refImage.set(sched, '');
    }
  }
  const min = settings.minPsnrDb ?? DEFAULT_MIN_PSNR_DB;
  for (const [i, slot] of run.rungs.entries()) {
    const ref = refImage.get(rungs[i]!.options.scheduler ?? 'default');
    if (slot.status !== 'ok' || !slot.image || !ref) continue;
    try {
      const q = compareImages(readNpy(path.join(settings.outDir, slot.image)).data, readNpy(path.join(settings.outDir, ref)).data);
      // JSON has no Infinity: null means identical to the reference.
      slot.quality = { reference: ref, psnr_db: Number.isFinite(q.psnr_db) ? q.psnr_db : null, max_abs_diff: q.max_abs_diff, flagged: q.psnr_db < min };
      if (slot.quality.flagged) log(`  quality: ${slot.id} drifted: PSNR ${q.psnr_db.toFixed(1)} dB < ${min} dB against ${ref}`);
    } catch (err) {
      log(`  quality: cannot compare ${slot.id}: ${(err as Error).message}`);
    }
  }
}

/**
 * Runs the rungs in order. A rung that fails keeps its row with the reason and the others still
 * run; a user error (bad model) stops the run, since every rung would hit it.
 */
/** Package versions of each environment a run uses, from the freeze its provisioning recorded. */
async function environments(stacks: string[]): Promise<Record<string, { key: string; packages: Record<string, string> }>> {
  const out: Record<string, { key: string; packages: Record<string, string> }> = {};
  for (const name of stacks) {
    const s = await describeStack(name);
    try {
      const marker = JSON.parse(readFileSync(path.join(s.dir, MARKER), 'utf8')) as { freeze?: string[] };
      const packages = Object.fromEntries((marker.freeze ?? []).map((l) => l.split('==')).filter((kv) => kv.length === 2).map(([k, v]) => [k!.toLowerCase(), v!]));
      out[name] = { key: s.key, packages };
    } catch {
      out[name] = { key: s.key, packages: {} };
    }
  }
  return out;
}

/**
 * `previous`: an interrupted run to continue (--resume): its finished rungs are kept as they are,
 * the others run again.
 */
export async function executeRun(ladder: Ladder, selected: Rung[], settings: RunSettings, log: Log, previous?: RunFile): Promise<RunFile> {
  const rungs = selected.map((r) => withThreads(r, settings.threads));
  // Environments are provisioned before anything is measured: pip on 2 cores would disturb a rung.
  const stacks = [...new Set(rungs.map((r) => r.backend))];
  const queue = new PQueue({ concurrency: 2 });
  const provisioned = new Map<string, Error>();
  await Promise.all(stacks.map((s) => queue.add(() => provision(s, log).catch((err: Error) => void provisioned.set(s, err)))));

  const run: RunFile = previous ? { ...previous, rungs: [] } : {
    schema_version: SCHEMA_VERSION,
    tool: { name: 'ladder', version: '0.1.0', git_revision: gitRevision() },
    command: settings.command,
    ladder: {
      name: ladder.name, file: ladder.file, baseline: ladder.rungs[0]!.id,
      figures: Object.fromEntries(ladder.rungs.filter((r) => r.article).map((r) => [r.id, r.article!])),
    },
    started: new Date().toISOString(),
    machine: machine(),
    rungs: [],
  };
  run.environments = await environments(stacks);
  const file = path.join(settings.outDir, 'run.json');
  const save = () => {
    addSpeedups(run);
    writeJsonAtomic(file, run);
    writeFileSync(path.join(settings.outDir, 'report.md'), renderReport(run));
  };
  const started = Date.now();
  for (const [i, rung] of rungs.entries()) {
    // Rungs differ a lot in cost; the average so far is still the best guess a user gets.
    const eta = i > 0 ? `; about ${Math.ceil(((Date.now() - started) / 1000 / i) * (rungs.length - i) / 60)} min left in the run` : '';
    log(`rung ${rung.id} (${i + 1}/${rungs.length}${eta}): ${rung.description}`);
    const done = previous?.rungs.find((r) => r.id === rung.id && r.status === 'ok');
    if (done) {
      log('  kept from the interrupted run');
      run.rungs.push(done);
      continue;
    }
    const slot: RungResult = {
      id: rung.id, status: 'running', compare_to: rung.compare_to, article: rung.article,
      config: { ...rung, model: settings.model, scenario: settings.scenario }, samples_s: [],
    };
    run.rungs.push(slot);
    save();
    try {
      const envError = provisioned.get(rung.backend);
      if (envError) throw envError;
      await runRung(rung, settings, log, slot);
    } catch (err) {
      slot.status = 'failed';
      slot.error = (err as Error).message;
      save();
      if (!(err instanceof RunError) || err instanceof UserError) throw err;
      log(`  FAILED: ${slot.error}`);
      for (const line of err.details.stderrTail ?? []) log(`    | ${line}`);
      continue;
    }
    save();
  }
  await qualityGuard(run, rungs, settings, log);
  if (settings.roofline !== false) await roofline(run, settings, log);
  run.finished = new Date().toISOString();
  save();
  try {
    await writeReports(run, settings.outDir);  // report.md, results.csv, report.html, chart.svg/png
  } catch (err) {
    log(`  reports: ${(err as Error).message} (run.json is complete; retry with: ladder report ${settings.outDir})`);
  }
  log(`results: ${file}`);
  return run;
}
