// Runs rungs one at a time, each in a fresh worker, then the quality guard and the roofline step.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import PQueue from 'p-queue';
import { BACKENDS } from '../backends/registry.ts';
import { provision } from '../envs/provision.ts';
import { type Channel, describeStack, MARKER } from '../envs/stacks.ts';
import { LadderError, ToggleError, UserError } from '../errors.ts';
import { instanceRungs } from '../launcher/instances.ts';
import { machine } from '../results/machine.ts';
import type { MachineProbe, RunFile, RungResult } from '../results/run-file.ts';
import type { Ladder, Rung } from '../rungs/ladder.ts';
import { probeMachine } from './machine-probe.ts';
import { DEFAULT_MIN_PSNR_DB, qualityGuard } from './quality-guard.ts';
import { roofline } from './roofline-step.ts';
import { type Log, type RungSettings, runRung } from './rung.ts';
import { RunStore } from './store.ts';

export type { Log };
export { DEFAULT_MIN_PSNR_DB };

/** Why a rung not started before `RunSettings.deadline` was skipped. */
export const BUDGET_SPENT = 'the time budget was spent before it started';

export interface RunSettings extends RungSettings {
  command: string;
  /** Overrides every rung's thread count. */
  threads?: number;
  /** Count FLOPs and probe the machine's peak after the rungs (default on). */
  roofline?: boolean;
  /** Quality guard: a rung whose image is below this PSNR against its fp32 reference is flagged. */
  minPsnrDb?: number;
  /** Probe the peak again instead of taking it from the cache. */
  reprobe?: boolean;
  /** Probe how much the machine moved between the start and the end of the run (default on). */
  machineProbe?: boolean;
  /** Judge each rung's image against its fp32 reference (default on; tune's later rounds skip it). */
  quality?: boolean;
  /** Epoch ms after which no further rung starts: they are skipped, the budget spent (tune's rounds). */
  deadline?: number;
}

export function withThreads(rung: Rung, threads?: number): Rung {
  return threads === undefined ? rung : { ...rung, launcher: { ...rung.launcher, threads } };
}

/** Package versions of each environment a run uses, from the freeze its provisioning recorded. */
async function environments(
  names: string[],
  channel: Channel = 'pinned',
): Promise<NonNullable<RunFile['environments']>> {
  const out: NonNullable<RunFile['environments']> = {};
  for (const name of names) {
    const s = await describeStack(name, channel);
    try {
      const marker = JSON.parse(readFileSync(path.join(s.dir, MARKER), 'utf8')) as { freeze?: string[] };
      const pairs = (marker.freeze ?? []).map((l) => l.split('==')).filter((kv) => kv.length === 2);
      out[name] = {
        key: s.key,
        channel,
        packages: Object.fromEntries(pairs.map(([k, v]) => [k!.toLowerCase(), v!])),
      };
    } catch {
      out[name] = { key: s.key, channel, packages: {} };
    }
  }
  return out;
}

/**
 * Runs the rungs in order. A rung that fails keeps its row with the reason and the others still
 * run; a user error (bad model) stops the run, since every rung would hit it. `previous`: an
 * interrupted run to continue (--resume).
 */
export async function executeRun(
  ladder: Ladder,
  selected: Rung[],
  settings: RunSettings,
  log: Log,
  previous?: RunFile,
): Promise<RunFile> {
  const rungs = selected.map((r) => withThreads(r, settings.threads));
  // Instances that do not fit in this machine's cores: said before anything is built or measured.
  for (const r of rungs) instanceRungs(r);
  // A backend that cannot run on this machine (zentorch on Intel) is skipped, its env never built.
  const here = machine();
  const skips = new Map(rungs.map((r) => [r.id, BACKENDS.get(r.backend)?.unsupported?.(here)]));
  // Environments are provisioned before anything is measured: pip on 2 cores would disturb a rung.
  const envs = [...new Set(rungs.filter((r) => !skips.get(r.id)).map((r) => r.env))];
  const queue = new PQueue({ concurrency: 2 });
  const failedEnvs = new Map<string, Error>();
  await Promise.all(
    envs.map((e) =>
      queue.add(() => provision(e, log, { channel: settings.envs }).catch((err: Error) => void failedEnvs.set(e, err))),
    ),
  );

  const store = previous
    ? RunStore.resume(settings.outDir, previous)
    : RunStore.create(settings.outDir, ladder, settings.command);
  store.run.environments = await environments(envs, settings.envs);
  // The machine is probed in a worker of the first rung that runs here.
  const prober = rungs.find((r) => !skips.get(r.id));
  const machineProbe: MachineProbe = { backend: (prober ?? rungs[0]!).backend };
  store.run.machine_probe = machineProbe;
  if (prober && settings.machineProbe !== false && !failedEnvs.has(prober.env))
    await probeMachine(machineProbe, prober, 'start', settings, log);
  const started = Date.now();
  for (const [i, rung] of rungs.entries()) {
    // Rungs differ a lot in cost; the average so far is still the best guess a user gets.
    const eta =
      i > 0
        ? `; about ${Math.ceil((((Date.now() - started) / 1000 / i) * (rungs.length - i)) / 60)} min left in the run`
        : '';
    log(`rung ${rung.id} (${i + 1}/${rungs.length}${eta}): ${rung.description}`);
    if (store.keep(rung.id)) {
      log('  kept from the interrupted run');
      continue;
    }
    const slot = store.add(
      {
        id: rung.id,
        status: 'running',
        compare_to: rung.compare_to,
        article: rung.article,
        config: { ...rung, model: settings.model, scenario: settings.scenario },
        samples_s: [],
      } satisfies RungResult,
      log,
    );
    const skip =
      skips.get(rung.id) ??
      (settings.deadline !== undefined && Date.now() >= settings.deadline ? BUDGET_SPENT : undefined);
    if (skip) {
      slot.status = 'skipped';
      slot.skipped = skip;
      log(`  skipped: ${skip}`);
      store.save(log);
      continue;
    }
    try {
      const envError = failedEnvs.get(rung.env);
      if (envError) throw envError;
      await runRung(rung, settings, log, slot);
    } catch (err) {
      slot.status = 'failed';
      slot.error = (err as Error).message;
      if (err instanceof ToggleError) slot.toggle_problems = err.problems;
      store.save(log);
      if (!(err instanceof LadderError) || err instanceof UserError) throw err;
      log(`  FAILED: ${slot.error}`);
      for (const line of err.details.stderrTail ?? []) log(`    | ${line}`);
      continue;
    }
    store.save(log);
  }
  store.keepRest();
  if (prober && machineProbe.start) await probeMachine(machineProbe, prober, 'end', settings, log);
  if (settings.quality !== false) await qualityGuard(store.run, rungs, settings, log);
  if (settings.roofline !== false) await roofline(store.run, settings, log);
  return store.finish(log);
}
