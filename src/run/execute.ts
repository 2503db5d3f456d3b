// Runs rungs one at a time, each in a fresh worker, and keeps run.json and report.md current after
// every rung, so a crash or Ctrl-C never loses what was already measured.
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import PQueue from 'p-queue';
import { RunError, UserError } from '../errors.ts';
import { provision } from '../envs/provision.ts';
import { launchPlan } from '../launcher/launch.ts';
import { cacheRoot } from '../paths.ts';
import { machine } from '../results/machine.ts';
import { renderReport } from '../results/report.ts';
import { gitRevision, SCHEMA_VERSION, writeJsonAtomic, type RunFile, type RungResult } from '../results/run-file.ts';
import { stats } from '../results/stats.ts';
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
}

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

/** Runs one rung in a fresh worker, proving its toggles; throws RunError/UserError on failure. */
export async function runRung(rung: Rung, settings: RunSettings, log: Log, slot: RungResult): Promise<void> {
  const stack = await provision(rung.backend, log);
  const t0 = Date.now();
  const session = await WorkerSession.start({
    rung: rung.id,
    plan: (endpoint) => launchPlan(stack.python, rung.launcher, endpoint, rung.id),
    heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
    verbose: settings.verbose,
  });
  try {
    log(`  ${describeHello(session.hello)}`);
    const progress = (m: Message) => {
      if (m.stage === 'pass') log(`  pass ${String(m.index)}/${String(m.total)}  ${fmt(Number(m.seconds))}`);
      else if (m.message) log(`  ${String(m.message)}${m.seconds !== undefined ? ` (${fmt(Number(m.seconds))})` : ''}`);
    };
    const loaded = await session.job('load', { model: settings.model, cache_dir: path.join(cacheRoot(), 'models'), backend: rung.backend, options: { ...rung.options, scenario: settings.scenario } }, progress);
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
    slot.timings = { startup_s: Number(loaded.startup_s), resolve_model_s: Number(loaded.resolve_s), load_s: Number(loaded.load_s) };
    log(`  loaded in ${fmt(Number(loaded.load_s))}: ${describeParams(effective)}`);
    const before = verifyLoaded(rung, effective as Effective);
    if (before.length) throw new ToggleError(rung.id, before);  // no point measuring a rung that isn't what it says

    const bench = await session.job('bench', { scenario: settings.scenario }, progress);
    effective.runtime = bench.runtime;
    slot.samples_s = bench.samples_s as number[];
    slot.timings = { ...slot.timings, warmup_s: Number(bench.warmup_s), wall_s: (Date.now() - t0) / 1000, peak_rss_bytes: Number(bench.peak_rss_bytes) };
    const after = verifyRuntime(rung, effective as Effective);
    if (after.length) throw new ToggleError(rung.id, after);
    slot.stats = stats(slot.samples_s);
    const st = slot.stats;
    log(`  median ${fmt(st.median_s)} (mean ${fmt(st.mean_s)}, stdev ${fmt(st.stdev_s)}, min ${fmt(st.min_s)}, max ${fmt(st.max_s)}) over ${st.n} passes`);
    await session.shutdown();
    slot.status = 'ok';
  } finally {
    session.kill();
  }
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
 * Runs the rungs in order. A rung that fails keeps its row with the reason and the others still
 * run; a user error (bad model) stops the run, since every rung would hit it.
 */
export async function executeRun(ladder: Ladder, selected: Rung[], settings: RunSettings, log: Log): Promise<RunFile> {
  const rungs = selected.map((r) => withThreads(r, settings.threads));
  // Environments are provisioned before anything is measured: pip on 2 cores would disturb a rung.
  const stacks = [...new Set(rungs.map((r) => r.backend))];
  const queue = new PQueue({ concurrency: 2 });
  const provisioned = new Map<string, Error>();
  await Promise.all(stacks.map((s) => queue.add(() => provision(s, log).catch((err: Error) => void provisioned.set(s, err)))));

  const run: RunFile = {
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
  const file = path.join(settings.outDir, 'run.json');
  const save = () => {
    addSpeedups(run);
    writeJsonAtomic(file, run);
    writeFileSync(path.join(settings.outDir, 'report.md'), renderReport(run));
  };
  for (const rung of rungs) {
    log(`rung ${rung.id}: ${rung.description}`);
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
  run.finished = new Date().toISOString();
  save();
  log(`results: ${file}`);
  return run;
}
