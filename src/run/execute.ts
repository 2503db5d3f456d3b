// Runs rungs one at a time, each in a fresh worker, then the quality guard and the roofline step.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import PQueue from 'p-queue';
import { BACKENDS } from '../backends/registry.ts';
import { provision } from '../envs/provision.ts';
import { type Channel, describeStack, MARKER } from '../envs/stacks.ts';
import { LadderError, ToggleError, UserError } from '../errors.ts';
import { instanceRungs } from '../launcher/instances.ts';
import { machine } from '../machine.ts';
import { type PassComponents, summarizeComponents } from '../results/breakdown.ts';
import { type PairedRatio, precise, roundsNeeded, whyImprecise } from '../results/paired.ts';
import type { MachineProbe, RunFile, RungResult, RungRound, RunRounds } from '../results/run-file.ts';
import { quantile, spreadWarning, stats } from '../results/stats.ts';
import { type Ladder, type Rung, withThreads } from '../rungs/ladder.ts';
import { probeMachine, probeRound } from './machine-probe.ts';
import { DEFAULT_MIN_PSNR_DB, qualityGuard } from './quality-guard.ts';
import { roofline } from './roofline-step.ts';
import { oneOffSeconds, roundOrder } from './rounds.ts';
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
  /** Interleaved rounds (default: one round, in the ladder's order). */
  rounds?: RoundsPlan;
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

/** Interleaved rounds: how many, and when to stop early or go on. */
export interface RoundsPlan {
  /** Rounds to run (with `precision`: at least these). */
  rounds: number;
  /** Add rounds until every paired ratio's 95% interval is within ±precision (0.05: 5%). */
  precision?: number;
  /** No more rounds than these (default 30 with `precision`). */
  maxRounds?: number;
  /** Start no round that would end past this many seconds from the run's start. */
  budgetS?: number;
  /** Seed of the shuffled orders (default: drawn, and recorded). */
  seed?: number;
}

export const DEFAULT_MAX_ROUNDS = 30;

const minutes = (s: number) => (s < 90 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`);

/** A later round of a rung, measured into `part`, folded into its slot: every figure from all rounds. */
function mergeRound(slot: RungResult, part: RungResult): void {
  slot.samples_s = [...slot.samples_s, ...part.samples_s];
  slot.stats = stats(slot.samples_s);
  slot.processes = (slot.processes ?? 1) + (part.instances?.length ?? 1);
  slot.components = [...(slot.components ?? []), ...(part.components ?? [])];
  slot.breakdown = summarizeComponents(slot.components as PassComponents[], slot.samples_s);
  slot.image = part.image;
  const t = slot.timings ?? {};
  slot.timings = {
    ...t,
    wall_s: (t.wall_s ?? 0) + (part.timings?.wall_s ?? 0),
    peak_rss_bytes: Math.max(t.peak_rss_bytes ?? 0, part.timings?.peak_rss_bytes ?? 0),
  };
  if (slot.overhead && part.overhead)
    for (const [k, v] of Object.entries(part.overhead)) slot.overhead[k] = Math.max(slot.overhead[k] ?? v, v);
  if (slot.throughput && part.throughput) {
    const rates = (slot.rounds ?? []).map((r) => r.images_per_s ?? Number.NaN).filter(Number.isFinite);
    slot.throughput = {
      ...slot.throughput,
      images_per_s: quantile(
        rates.sort((a, b) => a - b),
        0.5,
      ),
      window_s: slot.throughput.window_s + part.throughput.window_s,
      images: slot.throughput.images + part.throughput.images,
      pass_s_per_image: [...slot.throughput.pass_s_per_image, ...part.throughput.pass_s_per_image],
    };
  }
  const warning = spreadWarning(slot.stats);
  slot.warnings = warning ? [warning] : undefined;
}

/** The paired ratios of the run that are not yet within ±precision, and why. */
function imprecise(run: RunFile, precision: number): { id: string; reference: string; why: string; need: number }[] {
  return run.rungs.flatMap((r) =>
    [r.paired?.vs_baseline, r.paired?.vs_previous]
      .filter((p, i, all): p is PairedRatio => !!p && !precise(p, precision) && all.indexOf(p) === i)
      .map((p) => ({ id: r.id, reference: p.reference, why: whyImprecise(p), need: roundsNeeded(p, precision) })),
  );
}

/**
 * Runs the rungs in interleaved rounds: in each round every rung runs its passes in a fresh worker,
 * in that round's order (see rounds.ts). A fresh process per round, rather than workers kept alive
 * between rounds: it samples the level between processes too (a worker lands at its own level, 10%
 * apart back to back), and no idle worker can spin or hold memory while another rung measures; the
 * cost is a load per rung and round. A rung that fails keeps its row with the reason and leaves the
 * later rounds; a user error (bad model) stops the run, since every rung would hit it. `previous`:
 * an interrupted run to continue (--resume) from its last unfinished round.
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
  const run = store.run;
  run.environments = await environments(envs, settings.envs);
  const plan = settings.rounds ?? { rounds: 1 };
  const maxRounds = plan.maxRounds ?? (plan.precision !== undefined ? DEFAULT_MAX_ROUNDS : plan.rounds);
  run.rounds = {
    seed: run.rounds?.seed ?? plan.seed ?? Math.floor(Math.random() * 2 ** 31),
    asked: {
      rounds: plan.rounds,
      precision: plan.precision,
      max_rounds: plan.precision !== undefined || plan.maxRounds !== undefined ? maxRounds : undefined,
      budget_s: plan.budgetS,
    },
    done: run.rounds?.done ?? [],
    peak_rss_bytes: run.rounds?.peak_rss_bytes,
  };
  const rounds = run.rounds;
  // The machine is probed in a worker of the first rung that runs here.
  const prober = rungs.find((r) => !skips.get(r.id));
  const machineProbe: MachineProbe = run.machine_probe ?? { backend: (prober ?? rungs[0]!).backend };
  run.machine_probe = machineProbe;
  const probing = !!prober && settings.machineProbe !== false && !failedEnvs.has(prober.env);
  if (probing && !machineProbe.start) await probeMachine(machineProbe, prober, 'start', settings, log);
  const byId = new Map(rungs.map((r) => [r.id, r]));
  // The reference every ratio is taken against: the ladder's first rung, when it runs here.
  const reference = byId.has(ladder.rungs[0]!.id) ? ladder.rungs[0]!.id : undefined;
  const started = Date.now();
  // Each round's time without its one-off costs (exports...): what a further round costs.
  const roundTimes: number[] = [];
  // An interrupted run continues in its last unfinished round, with that round's recorded order.
  let round = rounds.done.length && !rounds.done.at(-1)!.finished ? rounds.done.length - 1 : rounds.done.length;
  /** Rounds the run will have at most. */
  const want = () => (plan.precision !== undefined ? maxRounds : Math.min(plan.rounds, maxRounds));
  for (; ; round++) {
    const stop = whyStop(round);
    if (stop) {
      rounds.stopped = stop;
      break;
    }
    const roundStarted = Date.now();
    // A resumed round whose rungs were all kept (or left out) measured nothing: it says nothing of a round's cost.
    if (await runRound(round))
      roundTimes.push(Math.max(0, Date.now() - roundStarted - 1000 * oneOffSeconds(run, round, started)));
    store.save(log);
  }
  if (plan.precision !== undefined) {
    const left = imprecise(run, plan.precision);
    rounds.imprecise = left.length
      ? left.map(({ id, reference: ref, why }) => ({ id, reference: ref, why }))
      : undefined;
    for (const x of left) log(`  ${x.id} vs ${x.reference} did not reach ±${pctOf(plan.precision)}: ${x.why}`);
  }
  if (rounds.peak_rss_bytes)
    log(
      `peak RSS of the workers alive at once: ${(rounds.peak_rss_bytes / 2 ** 30).toFixed(2)} GiB of the machine's ${(here.memory_bytes / 2 ** 30).toFixed(0)} GiB (one rung's workers at a time)`,
    );
  store.keepRest();
  if (prober && machineProbe.start) await probeMachine(machineProbe, prober, 'end', settings, log);
  if (settings.quality !== false) await qualityGuard(run, rungs, settings, log);
  if (settings.roofline !== false) await roofline(run, settings, log);
  return store.finish(log);

  /** Why no further round starts (undefined: start round `r`); logs the time left otherwise. */
  function whyStop(r: number): RunRounds['stopped'] | undefined {
    const fixed = plan.precision === undefined;
    if (fixed && r >= plan.rounds) return 'rounds';
    if (r >= maxRounds) return 'max-rounds';
    if (r === 0) return undefined;
    // Rungs that all failed leave nothing to interleave.
    if (!run.rungs.some((x) => x.status === 'ok' && byId.has(x.id))) return 'rounds';
    let target = want();
    if (!fixed) {
      const left = r >= plan.rounds ? imprecise(run, plan.precision!) : undefined;
      if (left && !left.length) return 'precision';
      target = Math.min(maxRounds, Math.max(r + 1, plan.rounds, 6, ...(left ?? []).map((x) => x.need)));
    }
    if (!roundTimes.length) return undefined; // resumed: no round timed yet
    const perRound = roundTimes.reduce((a, b) => a + b, 0) / roundTimes.length / 1000;
    const elapsed = (Date.now() - started) / 1000;
    if (plan.budgetS !== undefined && elapsed + perRound > plan.budgetS) return 'budget';
    if (settings.deadline !== undefined && Date.now() + perRound * 1000 > settings.deadline) return 'deadline';
    const why = fixed ? '' : ` (about ${target} rounds in all for ±${pctOf(plan.precision!)})`;
    log(`rounds: about ${minutes(perRound)} a round; about ${minutes(perRound * (target - r))} left${why}`);
    return undefined;
  }

  /** Runs round `r`; whether any rung of it ran a worker here. */
  async function runRound(r: number): Promise<boolean> {
    let entry = rounds.done.find((d) => d.round === r);
    const active = rungs
      .map((x) => x.id)
      .filter((id) => r === 0 || run.rungs.find((x) => x.id === id)?.status === 'ok');
    if (!entry) {
      entry = { round: r, order: roundOrder(active, r, rounds.seed, reference), started: new Date().toISOString() };
      rounds.done.push(entry);
      // Saved before its first rung: the order of a round is on disk before anything of it runs.
      store.save(log);
      if (r > 0 && probing) {
        const probe = await probeRound(prober!, settings, log);
        if (probe) entry.probe = probe;
      }
    }
    const total = want();
    // A rung of the interrupted run not selected now keeps its place in the round's order, unrun.
    const here = entry.order.filter((id) => byId.has(id));
    if (total > 1 || r > 0) log(`round ${r + 1}${plan.precision === undefined ? `/${total}` : ''}: ${here.join(', ')}`);
    let ran = false;
    for (const [i, id] of entry.order.entries()) {
      const rung = byId.get(id);
      if (rung) ran = (await runOne(rung, r, i, entry.order.length)) || ran;
    }
    entry.finished = new Date().toISOString();
    return ran;
  }

  /** Runs `rung` in round `r` at position `i` of `n`; whether a worker ran (not kept, left out or skipped). */
  async function runOne(rung: Rung, r: number, i: number, n: number): Promise<boolean> {
    const where = r === 0 && want() === 1 ? `${i + 1}/${n}` : `round ${r + 1}, ${i + 1}/${n}`;
    // Rungs differ a lot in cost; the average so far is still the best guess a user gets.
    const eta =
      r === 0 && i > 0
        ? `; about ${Math.ceil((((Date.now() - started) / 1000 / i) * (n - i)) / 60)} min left in the ${want() === 1 ? 'run' : 'round'}`
        : '';
    log(`rung ${rung.id} (${where}${eta}): ${rung.description}`);
    const existing = run.rungs.find((x) => x.id === rung.id);
    if ((r === 0 && store.keep(rung.id)) || existing?.rounds?.some((x) => x.round === r)) {
      log('  kept from the interrupted run');
      return false;
    }
    if (r > 0 && existing?.status !== 'ok') return false;
    const part: RungResult = {
      id: rung.id,
      status: 'running',
      compare_to: rung.compare_to,
      article: rung.article,
      config: { ...rung, model: settings.model, scenario: settings.scenario },
      samples_s: [],
    };
    // Round 0 measures into the rung's row; later rounds into a part folded into it once they succeed.
    const slot = r === 0 ? store.add(part, log) : part;
    const skip =
      skips.get(rung.id) ??
      (settings.deadline !== undefined && Date.now() >= settings.deadline ? BUDGET_SPENT : undefined);
    if (skip) {
      slot.status = 'skipped';
      slot.skipped = skip;
      log(`  skipped: ${skip}`);
      store.save(log);
      return false;
    }
    const t0 = new Date();
    try {
      const envError = failedEnvs.get(rung.env);
      if (envError) throw envError;
      const proc = await runRung(rung, settings, log, slot, r);
      const mine: RungRound = {
        round: r,
        position: i,
        pid: proc.pid,
        started: t0.toISOString(),
        samples_s: slot.samples_s,
        median_s: slot.stats!.median_s,
        wall_s: (Date.now() - t0.getTime()) / 1000,
        peak_rss_bytes: proc.peak_rss_bytes,
        images_per_s: slot.throughput?.images_per_s,
      };
      rounds.peak_rss_bytes = Math.max(rounds.peak_rss_bytes ?? 0, proc.peak_rss_bytes);
      const target = r === 0 ? slot : existing!;
      target.rounds = [...(target.rounds ?? []), mine];
      if (r === 0) slot.processes = slot.instances?.length ?? 1;
      else {
        mergeRound(target, slot);
        const st = target.stats!;
        log(
          `  over ${target.rounds.length} rounds: median ${st.median_s.toFixed(3)} s over ${st.n} passes from ${target.processes} processes`,
        );
      }
    } catch (err) {
      // A rung that fails in any round is failed: a toggle that did not take effect once voids its figure.
      const target = r === 0 ? slot : existing!;
      target.status = 'failed';
      target.error = r === 0 ? (err as Error).message : `round ${r + 1}: ${(err as Error).message}`;
      if (err instanceof ToggleError) target.toggle_problems = err.problems;
      store.save(log);
      if (!(err instanceof LadderError) || err instanceof UserError) throw err;
      log(`  FAILED: ${target.error}`);
      for (const line of err.details.stderrTail ?? []) log(`    | ${line}`);
      return true;
    }
    store.save(log);
    return true;
  }
}

const pctOf = (x: number) => `${+(x * 100).toFixed(2)}%`;
