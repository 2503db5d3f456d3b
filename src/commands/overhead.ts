// A benchmark of ladder itself: what its worker adds to a pass against a plain diffusers loop, and
// how much the controller disturbs what it measures. Prints figures against targets; it is not a test
// (timing targets do not belong in tests).
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { Argv } from 'yargs';
import { provision } from '../envs/provision.ts';
import { RunError, TailBuffer, UserError } from '../errors.ts';
import { EXIT } from '../exit-codes.ts';
import { writeJsonAtomic } from '../files.ts';
import { launchProgram } from '../launcher/launch.ts';
import { type PairedRatio, pairedRatio, type RoundSamples, roundsNeeded } from '../results/paired.ts';
import { compareImages, readNpy } from '../results/quality.ts';
import type { RungResult } from '../results/run-file.ts';
import { median } from '../results/stats.ts';
import { type RungSettings, runRung } from '../run/rung.ts';
import { loadLadder, type Rung, withThreads } from '../rungs/ladder.ts';
import { ARTICLE_SCENARIO, checkModel, checkNumber, checkScenario, type Scenario } from '../rungs/settings.ts';
import { commandLine, shq } from '../shell.ts';
import { jsonOption, outDirFrom, printJson } from './options.ts';

/** The worker may add at most this much to a pass (1%); the controller at most 0.5% of its CPU. */
export const WORKER_TARGET = 0.01;
export const CONTROLLER_CPU_TARGET_PCT = 0.5;
export const JOB_GAP_TARGET_MS = 5;
const MAX_ROUNDS_WORTH_SAYING = 200;

interface Args {
  model: string;
  height: number;
  width: number;
  steps: number;
  'warmup-steps': number;
  passes: number;
  threads: number;
  rounds: number;
  out?: string;
  json: boolean;
}

/** One process of the plain loop: its passes, and the image of its last pass. */
async function plainLoop(
  python: string,
  rung: Rung,
  modelPath: string,
  sc: Scenario,
  image: string,
): Promise<{ pid: number; samples_s: number[]; torch_threads: number }> {
  const program = [python, '-m', 'ladder_worker.plain', '--model-path', modelPath, '--prompt', sc.prompt];
  for (const [flag, v] of Object.entries({
    height: sc.height,
    width: sc.width,
    steps: sc.steps,
    'warmup-steps': sc.warmup_steps,
    passes: sc.passes,
    'guidance-scale': sc.guidance_scale,
    seed: sc.seed,
    'image-path': image,
  }))
    program.push(`--${flag}`, String(v));
  const plan = launchProgram(program, rung.launcher, rung.id);
  const stderr = new TailBuffer(10);
  const child = execa(plan.command, plan.args, { env: plan.env, extendEnv: false, stdin: 'ignore', reject: false });
  child.stderr?.on('data', (c: Buffer) => stderr.push(c));
  const r = await child;
  const last = String(r.stdout).trim().split('\n').at(-1) ?? '';
  if (r.exitCode !== 0 || !last.startsWith('{'))
    throw new RunError(`the plain diffusers loop failed (exit ${r.exitCode ?? r.signal})`, {
      command: [plan.command, ...plan.args].map(shq).join(' '),
      exitCode: r.exitCode,
      stderrTail: stderr.tail(),
    });
  return JSON.parse(last);
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}%`;

/** The verdict on the worker's cost against its target, from the interval (not the estimate alone). */
export function workerVerdict(cost: PairedRatio, target = WORKER_TARGET): string {
  const [lo, hi] = cost.ci;
  const level = `${Math.round(cost.level * 100)}%`;
  if (hi - 1 < target) return `within target: the ${level} interval is below +${100 * target}%`;
  if (lo - 1 > target) return `OVER TARGET: the ${level} interval is above +${100 * target}%`;
  const more = roundsNeeded(cost, Math.max(target / 2, 0.001));
  // Beyond a few hundred rounds (hours) the honest answer is that this machine is too noisy to tell.
  const tell =
    more <= MAX_ROUNDS_WORTH_SAYING
      ? `about ${more} rounds would tell`
      : `this machine moves too much between processes to tell in fewer than ${MAX_ROUNDS_WORTH_SAYING} rounds`;
  return `not resolved: the ${level} interval spans +${100 * target}% (${tell})`;
}

/** The figures of a run of `ladder overhead` that its targets judge. */
export interface OverheadFigures {
  worker_cost: { verdict: string };
  worker_service_cpu_pct_of_passes: number;
  controller: { cpu_pct_of_passes: number; bench_job_gap_ms: number; load_job_gap_ms: number };
}

/** The figures over their targets, by name: what the lines print as OVER TARGET (unknown is not over). */
export function overTargets(f: OverheadFigures): string[] {
  const c = f.controller;
  const over: [string, boolean][] = [
    ['worker_cost', f.worker_cost.verdict.startsWith('OVER TARGET')],
    ['worker_service_cpu', f.worker_service_cpu_pct_of_passes >= 100 * WORKER_TARGET],
    ['controller_cpu', c.cpu_pct_of_passes >= CONTROLLER_CPU_TARGET_PCT],
    ['job_gap', Math.max(c.bench_job_gap_ms, c.load_job_gap_ms) >= JOB_GAP_TARGET_MS],
  ];
  return over.filter(([, o]) => o).map(([k]) => k);
}

/** A figure over its target is reported like a regression: exit 10, not 0 after "OVER TARGET". */
export const overheadExitCode = (over: string[]): number => (over.length ? EXIT.REGRESSION : EXIT.OK);

export const overheadCommand = {
  command: 'overhead',
  describe:
    "Benchmark ladder itself: the worker's cost per pass against a plain diffusers loop (interleaved), and the controller's CPU and job time gap",
  builder: (y: Argv) =>
    jsonOption(y, 'the figures (overhead.json)')
      .option('model', { type: 'string', default: 'synthetic:sd15', describe: 'model both sides load' })
      .option('height', { type: 'number', default: 256 })
      .option('width', { type: 'number', default: 256 })
      .option('steps', { type: 'number', default: 4, describe: 'steps per timed pass' })
      .option('warmup-steps', { type: 'number', default: 1 })
      .option('passes', { type: 'number', default: 3, describe: 'timed passes of each process' })
      .option('threads', { type: 'number', default: 2, describe: 'OMP_NUM_THREADS of both sides' })
      .option('rounds', {
        type: 'number',
        default: 8,
        describe: 'rounds of one worker and one plain loop, each in a fresh process, in alternating order',
      })
      .option('out', { type: 'string', describe: 'output directory' })
      .epilog(`Exit code ${EXIT.REGRESSION} when a figure is over its target.`),
  handler: async (a: Args) => {
    checkNumber('rounds', a.rounds, { int: true, min: 1, max: 1000 });
    checkNumber('threads', a.threads, { int: true, min: 1, max: 4096 });
    const model = checkModel(a.model);
    if (model === 'auto') throw new UserError('overhead: --model auto is not allowed: name the model both sides load');
    const scenario = checkScenario({
      ...ARTICLE_SCENARIO,
      height: a.height,
      width: a.width,
      steps: a.steps,
      warmup_steps: a['warmup-steps'],
      passes: a.passes,
      min_time_s: 0,
    });
    const outDir = outDirFrom({ out: a.out, force: true }, 'overhead');
    const log = (line: string) => console.error(line);
    // The article's baseline: plain diffusers on PyTorch, the work the plain loop repeats.
    const rung = withThreads(loadLadder().rungs[0]!, a.threads);
    if (rung.backend !== 'torch')
      throw new UserError(`overhead: the first rung must be a torch rung, not ${rung.backend}`);
    const settings: RungSettings = { model, scenario, outDir };
    const stack = await provision(rung.env, log);
    const worker: RoundSamples[] = [];
    const plain: RoundSamples[] = [];
    const rounds: Record<string, unknown>[] = [];
    // Each worker's slot.overhead: the controller's CPU and job gaps, the worker's own threads.
    const overheads: NonNullable<RungResult['overhead']>[] = [];
    let modelPath = '';
    let sameImage: ReturnType<typeof compareImages> | undefined;
    mkdirSync(path.join(outDir, 'images'), { recursive: true });
    for (let r = 0; r < a.rounds; r++) {
      // Alternating which goes first (worker first in round 1: it resolves the model's folder) so
      // neither side always runs later in the machine's drift.
      const order = r % 2 === 0 ? (['worker', 'plain'] as const) : (['plain', 'worker'] as const);
      const record: Record<string, unknown> = { round: r, order };
      for (const side of order) {
        log(`round ${r + 1}/${a.rounds}: ${side === 'worker' ? 'ladder worker' : 'plain diffusers loop'}`);
        if (side === 'worker') {
          const slot: RungResult = { id: rung.id, status: 'running', config: { ...rung }, samples_s: [] };
          const proc = await runRung(rung, settings, log, slot, r);
          worker.push({ round: r, samples_s: slot.samples_s });
          if (slot.overhead) overheads.push(slot.overhead);
          modelPath ||= String(slot.effective?.model?.path ?? '');
          if (!modelPath) throw new RunError('overhead: the worker did not say which model folder it loaded');
          record.worker = { pid: proc.pid, samples_s: slot.samples_s };
        } else {
          const image = path.join(outDir, 'images', 'plain.npy');
          const p = await plainLoop(stack.python, rung, modelPath, scenario, image);
          if (p.torch_threads !== a.threads)
            throw new RunError(`the plain loop ran ${p.torch_threads} threads, not ${a.threads}: no figure`);
          plain.push({ round: r, samples_s: p.samples_s });
          record.plain = p;
          // Same work: the plain loop's image must be the worker's (same latents, seed, call).
          if (!sameImage) {
            sameImage = compareImages(readNpy(path.join(outDir, 'images', `${rung.id}.npy`)).data, readNpy(image).data);
            if (sameImage.psnr_db < 60)
              throw new RunError(
                `the plain loop did not do the worker's work: its image differs (PSNR ${sameImage.psnr_db.toFixed(1)} dB): no figure`,
              );
          }
          rmSync(image, { force: true });
        }
      }
      rounds.push(record);
      const w = median(worker.at(-1)!.samples_s);
      const p = median(plain.at(-1)!.samples_s);
      log(`  round ${r + 1}: worker ${w.toFixed(3)} s, plain ${p.toFixed(3)} s per pass: ${pct(w / p - 1)}`);
    }
    // Worker median over plain median, per round; > 1 means the worker is slower.
    const cost = pairedRatio('worker', worker, plain)!;
    const mid = (
      k: 'controller_cpu_pct_of_passes' | 'bench_job_gap_ms' | 'load_job_gap_ms' | 'worker_service_cpu_pct_of_passes',
    ) => median(overheads.map((o) => Number(o[k])).filter(Number.isFinite));
    const figures = {
      model,
      scenario,
      threads: a.threads,
      command: commandLine(),
      rounds,
      same_image: sameImage,
      worker_cost: { ...cost, estimate: cost.ratio - 1, target: WORKER_TARGET, verdict: workerVerdict(cost) },
      // What the worker's socket and libzmq threads ran during its passes: the part of its cost that
      // CPU accounting sees, without the noise of two processes' times.
      worker_service_cpu_pct_of_passes: mid('worker_service_cpu_pct_of_passes'),
      controller: {
        cpu_pct_of_passes: mid('controller_cpu_pct_of_passes'),
        bench_job_gap_ms: mid('bench_job_gap_ms'),
        load_job_gap_ms: mid('load_job_gap_ms'),
      },
    };
    writeJsonAtomic(path.join(outDir, 'overhead.json'), figures);
    // --json: the figures alone on stdout, the sentences on stderr.
    const say = a.json ? log : (line: string) => console.log(line);
    const sc = `${model}, ${scenario.height}x${scenario.width}, ${scenario.steps} steps, ${a.threads} threads`;
    say(
      `worker vs plain diffusers loop (${sc}; ${cost.rounds} rounds of ${scenario.passes} passes, fresh processes, alternating order; same image: PSNR ${sameImage!.psnr_db === Number.POSITIVE_INFINITY ? 'inf' : sameImage!.psnr_db.toFixed(1)} dB)`,
    );
    say(
      `what the worker adds to a pass: ${pct(cost.ratio - 1)} [${pct(cost.ci[0] - 1)} – ${pct(cost.ci[1] - 1)} at ${Math.round(cost.level * 100)}%] (target < ${100 * WORKER_TARGET}%: ${workerVerdict(cost)})`,
    );
    const verdict = (ok: boolean) => (ok ? 'within target' : 'OVER TARGET');
    const service = figures.worker_service_cpu_pct_of_passes;
    say(
      Number.isFinite(service)
        ? `the worker's socket and libzmq threads ran ${service.toFixed(3)}% of pass time (CPU, median of ${overheads.length} workers; target < ${100 * WORKER_TARGET}%: ${verdict(service < 100 * WORKER_TARGET)})`
        : "the worker's socket and libzmq threads: unknown (this kernel does not report per-thread CPU)",
    );
    const c = figures.controller;
    say(
      `controller CPU while the worker measured: ${c.cpu_pct_of_passes.toFixed(3)}% of pass time (median of ${overheads.length} workers; target < ${CONTROLLER_CPU_TARGET_PCT}%: ${verdict(c.cpu_pct_of_passes < CONTROLLER_CPU_TARGET_PCT)})`,
    );
    say(
      `job time gap, controller vs worker: bench ${c.bench_job_gap_ms.toFixed(2)} ms, load ${c.load_job_gap_ms.toFixed(2)} ms (target < ${JOB_GAP_TARGET_MS} ms: ${verdict(Math.max(c.bench_job_gap_ms, c.load_job_gap_ms) < JOB_GAP_TARGET_MS)})`,
    );
    say(`figures: ${path.join(outDir, 'overhead.json')}`);
    const over = overTargets(figures);
    if (a.json) printJson({ ...figures, over_target: over, file: path.join(outDir, 'overhead.json') });
    if (over.length) process.exitCode = overheadExitCode(over);
  },
};
