// The rung protocol: start a fresh worker in the rung's environment, load, verify, bench, verify.
// Nothing else runs in the controller while the worker measures: only this job's messages.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CommonEffective } from '../backends/types.ts';
import { provision } from '../envs/provision.ts';
import type { Channel } from '../envs/stacks.ts';
import { RunError, ToggleError, UserError } from '../errors.ts';
import { instanceRungs } from '../launcher/instances.ts';
import { launchPlan } from '../launcher/launch.ts';
import { ownerRecord } from '../lock.ts';
import { cacheRoot } from '../paths.ts';
import type { Message } from '../protocol/wire.ts';
import { type PassComponents, summarizeComponents } from '../results/breakdown.ts';
import { type ExplainProfile, parseExplainProfile } from '../results/explain.ts';
import { nonFinite, readNpy } from '../results/quality.ts';
import type { RungResult } from '../results/run-file.ts';
import { spreadWarning, stats } from '../results/stats.ts';
import { overlappingCores, throughput, type Window } from '../results/throughput.ts';
import { type Rung, resolvedOptions } from '../rungs/ladder.ts';
import type { Scenario } from '../rungs/settings.ts';
import { WorkerSession } from '../worker/session.ts';
import { verifyLoaded, verifyRuntime } from './verify.ts';

export type Log = (line: string) => void;

/** What every rung of a run shares. */
export interface RungSettings {
  model: string;
  scenario: Scenario;
  outDir: string;
  heartbeatTimeoutMs?: number;
  verbose?: boolean;
  /** A fixed deadline (seconds) for every job instead of the derived ones. */
  jobTimeoutS?: number;
  /** Which environments the workers run in: the pinned ones (default), or today's latest resolution. */
  envs?: Channel;
  /** Profile one UNet call of each rung after its passes (the explain job), into its `explain`. */
  explain?: boolean;
}

// Deadlines are generous: past one the worker is killed and the rung fails. A load may export or
// compile for many minutes; a bench gets its deadline from the warm-up's measured time.
export const LOAD_DEADLINE_S = 3600;
export const WARMUP_DEADLINE_S = 1800;

/** The time a bench may take once one step's time is known: 5 times the expected, plus 2 minutes. */
export function benchDeadline(sc: Scenario, stepS: number): number {
  const pass = stepS * sc.steps;
  const expected = Math.max(sc.passes * pass, Math.min(sc.min_time_s + pass, sc.max_passes * pass));
  return 120 + 5 * expected;
}

const fmt = (s: number) => `${s.toFixed(3)} s`;
export const modelsDir = () => path.join(cacheRoot(), 'models');

function describeHello(hello: Message): string {
  const pkgs = hello.packages as Record<string, string>;
  const alloc = hello.allocator as { name: string };
  const threads = hello.threads as Record<string, unknown>;
  return `worker pid ${String(hello.pid)}, python ${String(hello.python)}, torch ${pkgs.torch ?? '-'}, diffusers ${pkgs.diffusers ?? '-'}, allocator ${alloc.name}, ${String(threads.torch_intra_op ?? '?')} threads`;
}

function describeParams(effective: CommonEffective): string {
  return Object.entries(effective.components ?? {})
    .map(([k, v]) => `${k} ${(v.params / 1e6).toFixed(1)}M`)
    .join(', ');
}

/** A fresh worker for a rung, in the rung's environment (provisioned if needed). */
export async function openSession(rung: Rung, settings: RungSettings, log: Log): Promise<WorkerSession> {
  const stack = await provision(rung.env, log, { channel: settings.envs });
  return WorkerSession.start({
    rung: rung.id,
    plan: (endpoint) => launchPlan(stack.python, rung.launcher, endpoint, rung.id, process.env, rung.backend),
    heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
    verbose: settings.verbose,
  });
}

/** One line per pass as the worker's batched progress arrives, with the time left in the rung. */
function progressPrinter(log: Log): (m: Message) => void {
  let measured = 0;
  return (m) => {
    if (m.stage === 'pass') {
      // The worker batches pass times (at most a message a second): one line per pass all the same.
      const batch = (m.samples as number[] | undefined) ?? [Number(m.seconds)];
      const last = Number(m.index);
      for (const [k, seconds] of batch.entries()) {
        const index = last - batch.length + 1 + k;
        measured += seconds;
        const left = Math.max(0, Number(m.total) - index) * (measured / index);
        log(
          `  pass ${index}/${String(m.total)}  ${fmt(seconds)}${left > 0 ? `  (about ${Math.ceil(left)} s left in this rung)` : ''}`,
        );
      }
    } else if (m.message) log(`  ${String(m.message)}${m.seconds !== undefined ? ` (${fmt(Number(m.seconds))})` : ''}`);
  };
}

/** One worker of a rung, loaded and proven. */
export interface Instance {
  rung: Rung;
  session: WorkerSession;
  effective: CommonEffective & Record<string, unknown>;
  timings: Record<string, number>;
  loadGapMs: number;
}

/** Starts a worker for `rung` and loads the model; throws a ToggleError if a load-time toggle failed. */
export async function loadInstance(
  rung: Rung,
  settings: RungSettings,
  log: Log,
  sessions: WorkerSession[],
  round: number,
): Promise<Instance> {
  const session = await openSession(rung, settings, log);
  sessions.push(session);
  log(`  ${describeHello(session.hello)}${rung.launcher.cores ? ` on cores ${rung.launcher.cores}` : ''}`);
  const loadWall0 = performance.now();
  const fixed = settings.jobTimeoutS;
  const loading = session.job(
    'load',
    {
      model: settings.model,
      cache_dir: modelsDir(),
      backend: rung.backend,
      options: resolvedOptions(rung),
      // The round tells a backend which process of the run this is (the sleep mock seeds its noise by it).
      scenario: round > 0 ? { ...settings.scenario, round } : settings.scenario,
    },
    progressPrinter(log),
  );
  session.setDeadline(fixed ?? LOAD_DEADLINE_S, fixed ? '--job-timeout' : 'loads get an hour');
  const loaded = await loading;
  const effective: CommonEffective & Record<string, unknown> = {
    ...(loaded.effective as Record<string, unknown>),
    model: loaded.model as CommonEffective['model'],
    packages: session.hello.packages as Record<string, string>,
    python: session.hello.python as string,
    cpu: session.hello.cpu as CommonEffective['cpu'],
    allocator: loaded.allocator as CommonEffective['allocator'],
    threads: loaded.threads as Record<string, unknown>,
    env: session.hello.env as Record<string, string>,
  };
  // Export, reshape and compile times are reported apart from the per-image latency.
  const timings = {
    startup_s: Number(loaded.startup_s),
    resolve_model_s: Number(loaded.resolve_s),
    load_s: Number(loaded.load_s),
    ...((loaded.timings as Record<string, number> | undefined) ?? {}),
  };
  log(`  loaded in ${fmt(Number(loaded.load_s))}: ${describeParams(effective)}`);
  const loadGapMs = performance.now() - loadWall0 - Number(loaded.job_s) * 1000;
  return { rung, session, effective, timings, loadGapMs };
}

/** The bench job of one instance, its deadline derived from its own warm-up (or first pass). */
function bench(
  inst: Instance,
  settings: RungSettings,
  log: Log | undefined,
  image?: string,
  barrier?: { dir: string; parties: number },
): Promise<Record<string, unknown>> {
  const { session } = inst;
  const sc = settings.scenario;
  const fixed = settings.jobTimeoutS;
  const progress = log ? progressPrinter(log) : () => {};
  let derived = false;
  const benchProgress = (m: Message) => {
    progress(m);
    if (fixed || derived) return;
    // One step's time: from the warm-up, or from the first pass when there is no warm-up.
    const seconds = Number(m.seconds);
    const step =
      m.stage === 'warmup' && sc.warmup_steps > 0
        ? seconds / sc.warmup_steps
        : m.stage === 'pass'
          ? Number((m.samples as number[] | undefined)?.[0] ?? seconds) / sc.steps
          : undefined;
    if (step === undefined || !Number.isFinite(step)) return;
    derived = true;
    session.setDeadline(
      benchDeadline(sc, step),
      `5 times what the ${m.stage === 'warmup' ? 'warm-up' : 'first pass'} predicts; --job-timeout overrides`,
    );
  };
  const scenario = { ...sc, image_path: image ?? null, ...(barrier ? { barrier } : {}) };
  const benching = session.job('bench', { scenario }, benchProgress);
  session.setDeadline(fixed ?? WARMUP_DEADLINE_S, fixed ? '--job-timeout' : 'no step timed yet');
  return benching;
}

/** Runs the explain job in a loaded worker. */
export async function explainJob(session: WorkerSession, settings: RungSettings): Promise<ExplainProfile> {
  const job = session.job('explain', { scenario: settings.scenario });
  // Warm-up calls, a profiled call and, for a converted runtime, the UNet compiled once more.
  session.setDeadline(settings.jobTimeoutS ?? LOAD_DEADLINE_S, settings.jobTimeoutS ? '--job-timeout' : 'explain');
  return parseExplainProfile(await job);
}

/** What the controller knows of a rung's workers beyond its slot: for the rounds of a run. */
export interface RungProcess {
  /** The first instance's pid. */
  pid: number;
  /** Peak RSS of all its instances together (they were alive at once). */
  peak_rss_bytes: number;
}

/**
 * Runs one rung in fresh workers, proving its toggles, into `slot`; throws a LadderError on failure.
 * A rung of several instances loads them one after the other, then benches them all at once.
 * `round`: the round of an interleaved run this is (0 for the first).
 */
export async function runRung(
  rung: Rung,
  settings: RungSettings,
  log: Log,
  slot: RungResult,
  round = 0,
): Promise<RungProcess> {
  const t0 = performance.now();
  const sessions: WorkerSession[] = [];
  let barrierDir: string | undefined;
  try {
    const planned = instanceRungs(rung);
    const many = planned.length > 1;
    if (many) log(`  ${planned.length} instances on cores ${planned.map((r) => r.launcher.cores).join(' / ')}`);
    const instances: Instance[] = [];
    for (const r of planned) {
      const inst = await loadInstance(r, settings, log, sessions, round);
      instances.push(inst);
      if (inst === instances[0]) {
        slot.effective = inst.effective;
        slot.timings = inst.timings;
      }
      const before = verifyLoaded(r, inst.effective).map((p) => (many ? `instance ${instances.length - 1}: ${p}` : p));
      if (before.length) throw new ToggleError(rung.id, before); // no point measuring a rung that isn't what it says
    }
    // Each instance proved its own binding; together they must not share a core.
    if (many) {
      const overlap = overlappingCores(instances.map((i) => i.effective.cpu?.affinity ?? []));
      if (overlap.length) throw new ToggleError(rung.id, overlap);
    }
    const first = instances[0]!;

    const image = path.join(settings.outDir, 'images', `${rung.id}.npy`);
    mkdirSync(path.dirname(image), { recursive: true });
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    // All at once: only the first instance prints its passes and saves its image. Several instances
    // meet at a barrier after their warm-ups, so their timed passes start together.
    if (many) {
      barrierDir = mkdtempSync(path.join(os.tmpdir(), 'ladder-barrier-'));
      // With an owner record, a folder left by a killed run is removed by the next one (removeStaleDirs).
      writeFileSync(path.join(barrierDir, 'owner'), ownerRecord(process.pid));
    }
    const barrier = barrierDir ? { dir: barrierDir, parties: instances.length } : undefined;
    const results = await Promise.all(
      instances.map((inst, k) =>
        bench(inst, settings, k === 0 ? log : undefined, k === 0 ? image : undefined, barrier),
      ),
    );
    const wall = (performance.now() - wall0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const problems: string[] = [];
    for (const [k, inst] of instances.entries()) {
      inst.effective.runtime = results[k]!.runtime as CommonEffective['runtime'];
      problems.push(...verifyRuntime(inst.rung, inst.effective).map((p) => (many ? `instance ${k}: ${p}` : p)));
    }
    const perInstance = results.map((b) => b.samples_s as number[]);
    const samples = perInstance.flat();
    slot.samples_s = samples;
    slot.image = path.relative(settings.outDir, image);
    slot.timings = {
      ...slot.timings,
      warmup_s: Number(results[0]!.warmup_s),
      wall_s: (performance.now() - t0) / 1000,
      peak_rss_bytes: Math.max(...results.map((b) => Number(b.peak_rss_bytes))),
    };
    const measured = perInstance[0]!.reduce((a, b) => a + b, 0);
    slot.overhead = {
      controller_cpu_s: (cpu.user + cpu.system) / 1e6,
      controller_cpu_pct_of_passes: (100 * (cpu.user + cpu.system)) / 1e6 / measured,
      bench_job_gap_ms: (wall - Number(results[0]!.job_s)) * 1000,
      load_job_gap_ms: first.loadGapMs,
    };
    // The worker's own threads (socket, libzmq) during its timed passes: what it adds beside the work.
    const service = results[0]!.service_cpu_s;
    if (typeof service === 'number') {
      slot.overhead.worker_service_cpu_s = service;
      slot.overhead.worker_service_cpu_pct_of_passes = (100 * service) / measured;
    }
    const components = results.flatMap((b) => b.components as PassComponents[]);
    slot.components = components;
    slot.breakdown = summarizeComponents(components, samples);
    const windows = results.map((b) => (b.windows as Window[] | undefined) ?? []);
    const tp = throughput(windows);
    if (many) {
      slot.instances = instances.map((inst, k) => ({
        cores: inst.effective.cpu?.affinity ?? [],
        pid: Number(inst.session.hello.pid),
        threads: inst.effective.torch_threads,
        samples_s: perInstance[k]!,
        windows: windows[k]!,
        barrier_wait_s: Number(results[k]!.barrier_wait_s),
      }));
      if (!tp) problems.push('instances: they never ran passes at the same time (no common window)');
    }
    if (problems.length) throw new ToggleError(rung.id, problems);
    // NaN or Inf out of bf16 is a real failure mode, and PSNR cannot see it: such a rung has no figure.
    const bad = nonFinite(readNpy(image).data);
    if (bad)
      throw new RunError(`rung ${rung.id}: the image has ${bad} NaN or infinite values`, {
        stage: 'bench',
        rung: rung.id,
      });
    const st = stats(samples);
    slot.stats = st;
    if (tp) slot.throughput = tp;
    // Below 6 passes no pair of order statistics reaches 95%: say what the interval really covers.
    const ci = st.ci95_level >= 0.95 ? '95% CI' : `${Math.round(st.ci95_level * 100)}% CI`;
    log(
      `  median ${fmt(st.median_s)} (${ci} ${fmt(st.ci95_median_s[0])}–${fmt(st.ci95_median_s[1])}, mean ${fmt(st.mean_s)}, stdev ${fmt(st.stdev_s)}, min ${fmt(st.min_s)}, max ${fmt(st.max_s)}) over ${st.n} passes${many ? ` of ${instances.length} instances` : ''}`,
    );
    if (many && tp)
      log(
        `  throughput ${tp.images_per_s.toFixed(4)} images/s (${tp.images.toFixed(2)} images in the ${tp.window_s.toFixed(1)} s all ${tp.instances} instances ran)`,
      );
    const warning = spreadWarning(st);
    if (warning) {
      slot.warnings = [warning];
      log(`  warning: ${warning}`);
    }
    if (settings.explain && round === 0) {
      // After the passes, so nothing of it is in a figure; once per rung (the first round). A rung whose
      // backend cannot profile keeps its figure.
      log('  --explain: profiling one UNet call');
      try {
        slot.explain = await explainJob(first.session, settings);
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        slot.warnings = [...(slot.warnings ?? []), `--explain: ${err.message}`];
        log(`  warning: --explain: ${err.message}`);
      }
    }
    await Promise.all(instances.map((i) => i.session.shutdown()));
    slot.status = 'ok';
    return {
      pid: Number(first.session.hello.pid),
      peak_rss_bytes: results.reduce((sum, b) => sum + Number(b.peak_rss_bytes), 0),
    };
  } finally {
    for (const s of sessions) s.kill();
    if (barrierDir) rmSync(barrierDir, { recursive: true, force: true });
  }
}
