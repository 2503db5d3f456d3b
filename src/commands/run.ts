import path from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from '../errors.ts';
import { executeRun } from '../run/execute.ts';
import { ARTICLE_LADDER, loadLadder } from '../rungs/ladder.ts';
import { ARTICLE_SCENARIO, checkModel, checkScenario, type Scenario } from '../rungs/settings.ts';
import { repoRoot } from '../paths.ts';

export function scenarioOptions<T>(y: Argv<T>) {
  return y
    .option('model', { type: 'string', default: 'auto', describe: 'auto | synthetic:sd15 | synthetic:tiny | hub id (from the local HF cache) | local diffusers folder' })
    .option('steps', { type: 'number', default: ARTICLE_SCENARIO.steps, describe: 'denoising steps per timed pass' })
    .option('warmup-steps', { type: 'number', default: ARTICLE_SCENARIO.warmup_steps, describe: 'steps of the untimed warm-up call (0: none)' })
    .option('passes', { type: 'number', default: ARTICLE_SCENARIO.passes, describe: 'timed passes' })
    .option('height', { type: 'number', default: ARTICLE_SCENARIO.height, describe: 'image height (multiple of 8)' })
    .option('width', { type: 'number', default: ARTICLE_SCENARIO.width, describe: 'image width (multiple of 8)' })
    .option('prompt', { type: 'string', default: ARTICLE_SCENARIO.prompt })
    .option('guidance-scale', { type: 'number', default: ARTICLE_SCENARIO.guidance_scale })
    .option('seed', { type: 'number', default: ARTICLE_SCENARIO.seed, describe: 'generator seed of every pass' })
    .option('threads', { type: 'number', describe: 'OMP_NUM_THREADS/MKL_NUM_THREADS for the worker (default: the rung\'s or the libraries\' own)' })
    .option('ladder', { type: 'string', default: ARTICLE_LADDER, describe: 'ladder file the rungs come from' })
    .option('out', { type: 'string', describe: 'output directory for run.json (default results/runs/<time>-<rung>)' })
    .option('heartbeat-timeout', { type: 'number', default: 30, describe: 'seconds without a heartbeat before a worker is declared hung' })
    .option('verbose', { type: 'boolean', default: false, describe: 'echo the worker\'s stderr' });
}

type ScenarioArgs = {
  model: string; steps: number; 'warmup-steps': number; passes: number; height: number; width: number;
  prompt: string; 'guidance-scale': number; seed: number;
};

export function scenarioFrom(a: ScenarioArgs): Scenario {
  return checkScenario({
    ...ARTICLE_SCENARIO,
    prompt: a.prompt,
    steps: a.steps,
    warmup_steps: a['warmup-steps'],
    passes: a.passes,
    height: a.height,
    width: a.width,
    guidance_scale: a['guidance-scale'],
    seed: a.seed,
  });
}

export function defaultOutDir(label: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  return path.join(repoRoot, 'results', 'runs', `${stamp}-${label}`);
}

export const runCommand = {
  command: 'run <rung>',
  describe: 'Run one rung of a ladder in a fresh worker and print its passes and median',
  builder: (y: Argv) => scenarioOptions(y.positional('rung', { type: 'string', demandOption: true, describe: 'rung id (see the ladder file)' })),
  handler: async (a: ScenarioArgs & { rung: string; threads?: number; ladder: string; out?: string; 'heartbeat-timeout': number; verbose: boolean }) => {
    const scenario = scenarioFrom(a);
    const model = checkModel(a.model);
    const ladder = loadLadder(a.ladder);
    const rung = ladder.rungs.find((r) => r.id === a.rung);
    if (!rung) throw new UserError(`unknown rung '${a.rung}' (${path.basename(ladder.file)} has: ${ladder.rungs.map((r) => r.id).join(', ')})`);
    if (a.threads !== undefined) {
      if (!Number.isInteger(a.threads) || a.threads < 1) throw new UserError(`threads must be an integer >= 1 (got ${a.threads})`);
      rung.launcher = { ...rung.launcher, threads: a.threads };
    }
    if (!(a['heartbeat-timeout'] > 0)) throw new UserError(`heartbeat-timeout must be > 0 (got ${a['heartbeat-timeout']})`);
    const outDir = path.resolve(a.out ?? defaultOutDir(rung.id));
    const run = await executeRun([rung], {
      model, scenario, outDir,
      command: ['ladder', ...process.argv.slice(2)].join(' '),
      heartbeatTimeoutMs: a['heartbeat-timeout'] * 1000,
      verbose: a.verbose,
    }, (line) => console.log(line));
    if (run.rungs.some((r) => r.status !== 'ok')) process.exitCode = 1;
  },
};
