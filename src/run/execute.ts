// Runs rungs one at a time, each in a fresh worker, and keeps run.json current after every rung.
import path from 'node:path';
import { RunError, UserError } from '../errors.ts';
import { provision } from '../envs/provision.ts';
import { launchPlan } from '../launcher/launch.ts';
import { cacheRoot } from '../paths.ts';
import { machine } from '../results/machine.ts';
import { gitRevision, SCHEMA_VERSION, writeJsonAtomic, type RunFile, type RungResult } from '../results/run-file.ts';
import { stats } from '../results/stats.ts';
import type { Rung } from '../rungs/ladder.ts';
import type { Scenario } from '../rungs/settings.ts';
import { WorkerSession } from '../worker/session.ts';
import type { Message } from '../protocol/wire.ts';

export interface RunSettings {
  model: string;
  scenario: Scenario;
  outDir: string;
  command: string;
  heartbeatTimeoutMs?: number;
  verbose?: boolean;
}

export type Log = (line: string) => void;

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

/** Runs one rung in a fresh worker; throws RunError/UserError on failure. */
export async function runRung(rung: Rung, settings: RunSettings, log: Log): Promise<RungResult> {
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
    const loaded = await session.job('load', { model: settings.model, cache_dir: path.join(cacheRoot(), 'models'), backend: rung.backend, options: rung.options }, progress);
    const effective = loaded.effective as Record<string, unknown>;
    log(`  loaded in ${fmt(Number(loaded.load_s))}: ${describeParams(effective)}`);
    const bench = await session.job('bench', { scenario: settings.scenario }, progress);
    const samples = bench.samples_s as number[];
    const st = stats(samples);
    log(`  median ${fmt(st.median_s)} (mean ${fmt(st.mean_s)}, stdev ${fmt(st.stdev_s)}, min ${fmt(st.min_s)}, max ${fmt(st.max_s)}) over ${st.n} passes`);
    await session.shutdown();
    return {
      id: rung.id,
      status: 'ok',
      config: { ...rung, model: settings.model, scenario: settings.scenario },
      effective: {
        ...effective,
        model: loaded.model,
        packages: session.hello.packages,
        python: session.hello.python,
        cpu: session.hello.cpu,
        allocator: loaded.allocator,
        threads: loaded.threads,
        env: session.hello.env,
      },
      samples_s: samples,
      stats: st,
      timings: {
        startup_s: Number(loaded.startup_s),
        resolve_model_s: Number(loaded.resolve_s),
        load_s: Number(loaded.load_s),
        warmup_s: Number(bench.warmup_s),
        wall_s: (Date.now() - t0) / 1000,
        peak_rss_bytes: Number(bench.peak_rss_bytes),
      },
    };
  } finally {
    session.kill();
  }
}

/**
 * Runs the rungs in order and returns the run file. A rung that fails keeps its row with the reason
 * and the others still run; a user error (bad model, bad option) stops the run, since every rung would
 * hit it. run.json is rewritten after every rung, so what was measured is never lost.
 */
export async function executeRun(rungs: Rung[], settings: RunSettings, log: Log): Promise<RunFile> {
  const run: RunFile = {
    schema_version: SCHEMA_VERSION,
    tool: { name: 'ladder', version: '0.1.0', git_revision: gitRevision() },
    command: settings.command,
    started: new Date().toISOString(),
    machine: machine(),
    rungs: [],
  };
  const file = path.join(settings.outDir, 'run.json');
  for (const rung of rungs) {
    log(`rung ${rung.id}: ${rung.description}`);
    const slot: RungResult = { id: rung.id, status: 'running', config: { ...rung }, samples_s: [] };
    run.rungs.push(slot);
    writeJsonAtomic(file, run);
    try {
      Object.assign(slot, await runRung(rung, settings, log));
    } catch (err) {
      slot.status = 'failed';
      slot.error = (err as Error).message;
      writeJsonAtomic(file, run);
      if (err instanceof UserError) throw err;
      if (!(err instanceof RunError)) throw err;
      log(`  FAILED: ${slot.error}`);
      for (const line of err.details.stderrTail ?? []) log(`    | ${line}`);
      continue;
    }
    writeJsonAtomic(file, run);
  }
  run.finished = new Date().toISOString();
  writeJsonAtomic(file, run);
  log(`results: ${file}`);
  return run;
}
