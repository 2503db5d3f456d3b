// The flags several commands share and what they become: the scenario and its profile, the rounds,
// the ladder and the rungs selected from it, the run's folder. Commands import from here, never from
// one another.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { CHANNELS, type Channel } from '../envs/stacks.ts';
import { UserError } from '../errors.ts';
import { checkWritableDir, newRunDir, prepareRunDir } from '../out-dir.ts';
import { cacheRoot, repoRoot } from '../paths.ts';
import { HEARTBEAT_INTERVAL_MS } from '../protocol/wire.ts';
import { DEFAULT_MIN_PSNR_DB, type RoundsPlan, type RunSettings } from '../run/execute.ts';
import { ARTICLE_LADDER, applyOverrides, type Ladder, ladderPath, loadLadder, type Rung } from '../rungs/ladder.ts';
import {
  checkModel,
  checkNumber,
  checkScenario,
  PROFILE_ROUNDS,
  PROFILES,
  parseDuration,
  parsePrecision,
  type Scenario,
} from '../rungs/settings.ts';
import { commandLine } from '../shell.ts';
import { closest } from '../suggest.ts';

/**
 * Every value of a repeatable flag. yargs keeps only the last of a repeated flag here (so that a
 * repeated scalar flag does not turn into a list), so repeatable ones are read from argv itself.
 */
export function repeated(name: string, given: string[] | undefined, argv = process.argv.slice(2)): string[] {
  const out: string[] = [];
  for (const [i, arg] of argv.entries()) {
    if (arg === '--') break;
    if (arg === `--${name}` && argv[i + 1] !== undefined) out.push(argv[i + 1]!);
    else if (arg.startsWith(`--${name}=`)) out.push(arg.slice(name.length + 3));
  }
  return out.length ? out : (given ?? []);
}

const list = (name: string, v: string[] | undefined) =>
  repeated(name, v)
    .flatMap((x) => x.split(','))
    .map((x) => x.trim())
    .filter(Boolean);

/** --only / --skip, comma-separated or repeated. */
export function selectionOptions<T>(y: Argv<T>) {
  return y
    .option('only', { type: 'string', array: true, describe: 'run only these rungs (comma-separated or repeated)' })
    .option('skip', { type: 'string', array: true, describe: 'leave these rungs out' });
}

/** The ladder's rungs that --only and --skip leave, in ladder order. */
export function selectedRungs(ladder: Ladder, a: { only?: string[]; skip?: string[]; set?: string[] }): Rung[] {
  const only = list('only', a.only);
  const skip = list('skip', a.skip);
  // `--only ,` names nothing: running every rung instead would be the opposite of what was asked.
  if (a.only !== undefined && !only.length) throw new UserError('--only names no rung');
  if (a.skip !== undefined && !skip.length) throw new UserError('--skip names no rung');
  return selectRungs(ladder, only, skip).map((r) => applyOverrides(r, repeated('set', a.set)));
}

export function selectRungs(ladder: Ladder, only: string[], skip: string[]): Rung[] {
  const ids = new Set(ladder.rungs.map((r) => r.id));
  for (const id of [...only, ...skip]) if (!ids.has(id)) throw unknownRung(id, ladder);
  const chosen = ladder.rungs.filter((r) => (!only.length || only.includes(r.id)) && !skip.includes(r.id));
  if (!chosen.length) throw new UserError('--only/--skip leave no rung to run');
  return chosen;
}

/** The ladders shipped in ladders/ (the files holding rungs; space.yaml is tune's). */
export function ladderNames(): string[] {
  const dir = path.join(repoRoot, 'ladders');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && /^rungs:/m.test(readFileSync(path.join(dir, f), 'utf8')))
    .map((f) => f.replace(/\.yaml$/, ''))
    .sort();
}

/**
 * An unknown rung id, said helpfully: the shipped ladder that has it, else the nearest id of this
 * ladder, else the ids there are.
 */
export function unknownRung(id: string, ladder: Ladder): UserError {
  const ids = ladder.rungs.map((r) => r.id);
  for (const name of ladderNames()) {
    const file = ladderPath(name);
    if (path.resolve(file) === path.resolve(ladder.file)) continue;
    let other: Ladder;
    try {
      other = loadLadder(file);
    } catch {
      continue; // a broken shipped ladder has its own test; it only cannot help here
    }
    if (other.rungs.some((r) => r.id === id))
      return new UserError(`rung ${id} is in ladders/${name}.yaml: --ladder ${name}`);
  }
  const near = closest(id, ids);
  const known = `${path.basename(ladder.file)} has: ${ids.join(', ')}`;
  return new UserError(`unknown rung '${id}' (${near ? `did you mean ${near}? ` : ''}${known})`);
}

/**
 * The profile a command runs when none is given. A newcomer's first `ladder run` or `reproduce`
 * should answer in minutes (a rung) or about an hour (the whole ladder on a 2-core VM), not the
 * article's several hours: quick keeps the article's 512x512 image with fewer steps and passes.
 * `--profile article` is one flag away (or `profile:` in ladder.config.yaml). nightly keeps article:
 * its history is judged night against night, and a new default would make existing histories
 * incomparable.
 */
export const DEFAULT_PROFILE = 'quick';
export const DEFAULT_HEARTBEAT_TIMEOUT_S = 30;
/** nightly's and trend's history root. */
export const DEFAULT_HISTORY = path.join(repoRoot, 'results', 'history');
export const NIGHTLY_PROFILE = 'article';

export function scenarioOptions<T>(y: Argv<T>, profile = DEFAULT_PROFILE) {
  return y
    .option('profile', {
      type: 'string',
      default: profile,
      choices: Object.keys(PROFILES),
      describe: `scenario preset: article (512x512, 20 steps, 10 passes; the article's figures, 2-3 hours for the whole ladder), quick (512x512, 5 steps, 3 passes), smoke (64x64, 2 steps, 2 passes); flags below override it. Default ${profile}${profile === DEFAULT_PROFILE ? ": a first run should answer in minutes (a rung) or an hour (the ladder), not the article's hours" : ": a nightly history is judged against its own nights, at the article's scenario"}`,
    })
    .option('model', {
      type: 'string',
      default: 'auto',
      describe: 'auto | synthetic:sd15 | synthetic:tiny | hub id (from the local HF cache) | local diffusers folder',
    })
    .option('steps', { type: 'number', describe: 'denoising steps per timed pass' })
    .option('warmup-steps', { type: 'number', describe: 'steps of the untimed warm-up call (0: none)' })
    .option('passes', { type: 'number', describe: 'timed passes (at least)' })
    .option('min-time', { type: 'number', describe: 'keep adding passes until this many seconds were measured' })
    .option('max-passes', { type: 'number', describe: 'cap on passes added by --min-time (default 1000)' })
    .option('min-psnr', {
      type: 'number',
      default: DEFAULT_MIN_PSNR_DB,
      describe: 'quality guard: flag a rung whose image is below this PSNR (dB) against the fp32 reference',
    })
    .option('height', { type: 'number', describe: 'image height (multiple of 8)' })
    .option('width', { type: 'number', describe: 'image width (multiple of 8)' })
    .option('prompt', { type: 'string' })
    .option('guidance-scale', { type: 'number', describe: 'classifier-free guidance (> 1 for static OpenVINO shapes)' })
    .option('seed', { type: 'number', describe: 'generator seed of every pass' })
    .option('threads', {
      type: 'number',
      describe: "OMP_NUM_THREADS/MKL_NUM_THREADS for every worker (default: the rung's or the libraries' own)",
    })
    .option('heartbeat-timeout', {
      type: 'number',
      default: DEFAULT_HEARTBEAT_TIMEOUT_S,
      describe: 'seconds without a heartbeat before a worker is declared hung',
    })
    .option('machine-probe', {
      type: 'boolean',
      default: true,
      describe:
        'probe the machine at the start and the end of the run, to see how much it moved (--no-machine-probe skips)',
    })
    .option('reprobe', {
      type: 'boolean',
      default: false,
      describe: "probe the machine's matrix-product peak again instead of using the cached one",
    })
    .option('job-timeout', {
      type: 'number',
      describe:
        'seconds any one job (load, bench) may take before its worker is killed (default: an hour for a load, 5 times what the warm-up predicts for a bench)',
    })
    .option('envs', {
      type: 'string',
      default: 'pinned',
      choices: CHANNELS,
      describe:
        "pinned: each stack's frozen requirements.txt; latest: its top-level requirements.in resolved afresh into an environment of the day (catches upstream releases)",
    })
    .option('verbose', { type: 'boolean', default: false, describe: "echo the workers' stderr" })
    .option('roofline', {
      type: 'boolean',
      default: true,
      describe: 'count FLOPs and probe the peak after the rungs (--no-roofline skips)',
    });
}

/** --explain: profile one UNet call of each rung after its passes (reproduce, run). */
export function explainOption<T>(y: Argv<T>) {
  return y.option('explain', {
    type: 'boolean',
    default: false,
    describe:
      "after each rung's passes, profile one UNet call with its runtime's own profiler (ladder explain): a section in run.json and the reports",
  });
}

/** --ladder: a file, or one of the ladders in ladders/ by name (listed from the folder). */
export function ladderOption<T>(y: Argv<T>) {
  return y.option('ladder', {
    type: 'string',
    default: ARTICLE_LADDER,
    describe: `ladder file the rungs come from, or the name of one in ladders/: ${ladderNames().join(', ')}`,
  });
}

/** --set: field overrides of every rung run. */
export function setOption<T>(y: Argv<T>) {
  return y.option('set', {
    type: 'string',
    array: true,
    describe:
      'override a field of every rung run, checked like the ladder file: launcher.allocator=tcmalloc, options.dtype=bf16, env=torch (repeatable)',
  });
}

/** --out and --force: the run's own folder. */
export function outOptions<T>(y: Argv<T>, describe = 'output directory (default results/runs/<time>-<label>)') {
  return y
    .option('out', { type: 'string', describe })
    .option('force', { type: 'boolean', default: false, describe: 'let --out replace a run already in that folder' });
}

/** --json: one JSON document on stdout (docs/json.md), everything else on stderr. */
export function jsonOption<T>(y: Argv<T>, what: string) {
  return y.option('json', {
    type: 'boolean',
    default: false,
    describe: `print ${what} as one JSON document on stdout (docs/json.md), logs on stderr; ladder never prints colour`,
  });
}

/** Prints one JSON document on stdout: what --json promises. */
export const printJson = (doc: unknown) => console.log(JSON.stringify(doc, null, 2));

/** Interleaved rounds: how many, and when to stop (reproduce, run, nightly). */
export function roundsOptions<T>(y: Argv<T>) {
  return y
    .option('rounds', {
      type: 'number',
      describe: `rounds: in each, every rung runs its passes in a fresh worker, the rounds interleaved (round 1 in ladder order, then shuffled); ratios are paired within rounds. Default: the profile's (${Object.entries(
        PROFILE_ROUNDS,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}); 1: one after the other`,
    })
    .option('precision', {
      type: 'string',
      describe:
        "add rounds until every ratio's 95% interval is within this (5% or 0.05), or --max-rounds or --budget is reached (at least 6 rounds)",
    })
    .option('max-rounds', { type: 'number', describe: 'no more rounds than this (default 30 with --precision)' })
    .option('budget', {
      type: 'string',
      describe: 'start no round that would end past this wall time: 45m, 1h30m, 90s',
    })
    .option('order-seed', {
      type: 'number',
      describe: 'seed of the shuffled round orders (default: drawn and recorded)',
    });
}

export type RoundsArgs = {
  rounds?: number;
  precision?: string;
  'max-rounds'?: number;
  budget?: string;
  'order-seed'?: number;
};

export function roundsFrom(a: RoundsArgs & { profile: string }): RoundsPlan {
  const rounds =
    a.rounds === undefined
      ? (PROFILE_ROUNDS[a.profile] ?? 1)
      : checkNumber('rounds', a.rounds, { int: true, min: 1, max: 1000 });
  const maxRounds =
    a['max-rounds'] === undefined
      ? undefined
      : checkNumber('max-rounds', a['max-rounds'], { int: true, min: 1, max: 1000 });
  if (maxRounds !== undefined && a.rounds !== undefined && maxRounds < rounds)
    throw new UserError(`--max-rounds ${maxRounds} is below --rounds ${rounds}`);
  return {
    rounds: maxRounds !== undefined ? Math.min(rounds, maxRounds) : rounds,
    precision: a.precision === undefined ? undefined : parsePrecision(a.precision),
    maxRounds,
    budgetS: a.budget === undefined ? undefined : parseDuration(a.budget),
    seed:
      a['order-seed'] === undefined
        ? undefined
        : checkNumber('order-seed', a['order-seed'], { int: true, min: 0, max: 2 ** 31 - 1 }),
  };
}

export type CommonArgs = {
  profile: string;
  model: string;
  steps?: number;
  'warmup-steps'?: number;
  passes?: number;
  'min-time'?: number;
  'max-passes'?: number;
  'min-psnr': number;
  height?: number;
  width?: number;
  prompt?: string;
  'guidance-scale'?: number;
  seed?: number;
  threads?: number;
  out?: string;
  'heartbeat-timeout': number;
  'job-timeout'?: number;
  force?: boolean;
  reprobe?: boolean;
  'machine-probe'?: boolean;
  verbose: boolean;
  envs: Channel;
  roofline: boolean;
  set?: string[];
  explain?: boolean;
};

/** The ladder a command names: a file, or the name of one in ladders/. */
export const ladderFrom = (a: { ladder: string }): Ladder => loadLadder(ladderPath(a.ladder));

export function scenarioFrom(a: CommonArgs): Scenario {
  const base = PROFILES[a.profile];
  if (!base) throw new UserError(`unknown profile '${a.profile}' (known: ${Object.keys(PROFILES).join(', ')})`);
  const given = {
    prompt: a.prompt,
    steps: a.steps,
    warmup_steps: a['warmup-steps'],
    passes: a.passes,
    height: a.height,
    width: a.width,
    guidance_scale: a['guidance-scale'],
    seed: a.seed,
    min_time_s: a['min-time'],
    max_passes: a['max-passes'],
  };
  const s = { ...base, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) };
  // max-passes caps what --min-time adds: more passes asked than its default raise it, unless it was given.
  if (a['max-passes'] === undefined && Number.isInteger(s.passes)) s.max_passes = Math.max(s.max_passes, s.passes);
  return checkScenario(s);
}

/** The run's folder, created and proven writable now, before anything slow starts. */
export function outDirFrom(a: { out?: string; force?: boolean }, label: string, resume = false): string {
  checkWritableDir(cacheRoot(), 'the cache folder (LADDER_CACHE_DIR)');
  if (a.out !== undefined) return prepareRunDir(a.out, { what: '--out', force: a.force, resume });
  return newRunDir(path.join(repoRoot, 'results', 'runs'), label);
}

// Below two heartbeat intervals a healthy worker would be declared hung.
const checkHeartbeatTimeout = (v: number) =>
  checkNumber('heartbeat-timeout', v, { min: (2 * HEARTBEAT_INTERVAL_MS) / 1000, max: 86_400 });
const checkMinPsnr = (v: number) => checkNumber('min-psnr', v, { min: 0, max: 1000 });

/** The checks of the flags the config file can set: run on a flag's value and on the file's alike. */
export const FLAG_CHECKS: Record<string, ((v: never) => unknown) | undefined> = {
  'heartbeat-timeout': checkHeartbeatTimeout,
  'min-psnr': checkMinPsnr,
  model: checkModel,
};

/**
 * The numeric and model flags, checked with the bounds a real run enforces: also by --dry-run, which
 * would otherwise print a plan for `--steps 1e12` and exit 0.
 */
export function checkFlags(a: CommonArgs): { model: string; scenario: Scenario } {
  checkHeartbeatTimeout(a['heartbeat-timeout']);
  if (a.threads !== undefined) checkNumber('threads', a.threads, { int: true, min: 1, max: 4096 });
  checkMinPsnr(a['min-psnr']);
  if (a['job-timeout'] !== undefined) checkNumber('job-timeout', a['job-timeout'], { min: 1, max: 7 * 86_400 });
  return { model: checkModel(a.model), scenario: scenarioFrom(a) };
}

/** Everything a run needs from the common flags, checked before any work starts. */
export function settingsFrom(a: CommonArgs, label: string, outDir?: string): RunSettings {
  const { model, scenario } = checkFlags(a);
  return {
    model,
    scenario,
    outDir: outDir ?? outDirFrom(a, label),
    command: commandLine(),
    heartbeatTimeoutMs: a['heartbeat-timeout'] * 1000,
    jobTimeoutS: a['job-timeout'],
    verbose: a.verbose,
    envs: a.envs,
    threads: a.threads,
    minPsnrDb: a['min-psnr'],
    roofline: a.roofline,
    reprobe: a.reprobe,
    machineProbe: a['machine-probe'],
    explain: a.explain,
  };
}
