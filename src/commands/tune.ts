import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from '../errors.ts';
import { EXIT } from '../exit-codes.ts';
import { writeFileAtomic, writeJsonAtomic } from '../files.ts';
import { repoRoot } from '../paths.ts';
import { specToSvg, svgToPng } from '../render/vega.ts';
import { checkNumber, parseDuration } from '../rungs/settings.ts';
import { bestYaml, renderTune, tuneChartSpec } from '../tune/answer.ts';
import { type Objective, RunExecutor } from '../tune/executor.ts';
import { costFrom, pastRungs, planRounds } from '../tune/plan.ts';
import { DEFAULT_SEARCH, successiveHalving } from '../tune/search.ts';
import { describeValues, enumerate, loadSpace, spacePath } from '../tune/space.ts';
import {
  type CommonArgs,
  jsonOption,
  outDirFrom,
  outOptions,
  printJson,
  scenarioFrom,
  scenarioOptions,
  settingsFrom,
} from './options.ts';

/** "45m", "1h30m", "90s", "2h" or plain seconds. */
export const parseBudget = (text: string): number => parseDuration(text);

interface TuneArgs extends CommonArgs {
  space: string;
  budget: string;
  'max-rounds'?: number;
  objective: Objective;
  'dry-run': boolean;
  resume: boolean;
  runs: string;
  json: boolean;
}

const minutes = (s: number) => (s < 90 ? `${Math.round(s)} s` : `${(s / 60).toFixed(0)} min`);

export const tuneCommand = {
  command: 'tune',
  describe: 'Search a space of configurations for the fastest correct one on this machine, within a time budget',
  builder: (y: Argv) =>
    // No --ladder, --set or --only: the candidates come from the space file.
    jsonOption(
      outOptions(
        scenarioOptions(y),
        'output directory of the search (default results/runs/<time>-tune-<space>-<profile>)',
      ),
      'the search (tune.json), or with --dry-run the plan,',
    )
      .option('space', { type: 'string', default: 'space', describe: 'space file (or the name of one in ladders/)' })
      .option('budget', { type: 'string', default: '45m', describe: 'wall time the search may take: 45m, 1h30m, 90s' })
      .option('max-rounds', {
        type: 'number',
        describe:
          'stop after this many rounds (1: screen every candidate once); the winner is then the fastest, not a proven one',
      })
      .option('objective', {
        type: 'string',
        default: 'latency',
        choices: ['latency', 'throughput'],
        describe:
          'latency: seconds per image of one worker; throughput: images/s of instances pinned to their own cores',
      })
      .option('dry-run', {
        type: 'boolean',
        default: false,
        describe: 'print the pruned space and the plan, run nothing',
      })
      .option('runs', {
        type: 'string',
        default: path.join(repoRoot, 'results', 'runs'),
        describe: 'folder of earlier runs (and searches) whose costs the plan is estimated from',
      })
      .option('resume', { type: 'boolean', default: false, describe: 'continue the interrupted search in --out' })
      .example('$0 tune --dry-run', 'the pruned space and the plan, costed from earlier runs')
      .example('$0 tune --budget 1h30m --objective throughput', 'the search, for images per second'),
  handler: async (a: TuneArgs) => {
    const budgetS = parseBudget(a.budget);
    const search = {
      ...DEFAULT_SEARCH,
      budgetS,
      ...(a['max-rounds'] === undefined
        ? {}
        : { maxRounds: checkNumber('max-rounds', a['max-rounds'], { int: true, min: 1, max: 100 }) }),
    };
    if (a.resume && a.out === undefined)
      throw new UserError('--resume needs --out: the folder of the interrupted search');
    const space = loadSpace(spacePath(a.space));
    const e = enumerate(space, { objective: a.objective });
    const log = a.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
    const pruned = e.pruned.reduce((s, p) => s + p.count, 0);
    log(
      `space ${space.name} (${a.objective}): ${e.combinations} combinations, ${e.notApplicable} not applicable to their backend, ${pruned} pruned, ${e.candidates.length} candidates`,
    );
    for (const p of e.pruned) log(`  pruned ${p.count}: ${p.why}`);
    for (const c of e.candidates) log(`  ${c.id}: ${describeValues(c.values)}`);
    if (!e.candidates.length) throw new UserError(`space ${space.name}: every combination was pruned`);

    // The plan, costed from earlier runs of the same model and shapes on this machine.
    const scenario = scenarioFrom(a);
    const cost = costFrom(pastRungs(a.runs, a.model, scenario));
    const rounds = planRounds(
      e.candidates.map((c) => c.rung),
      e.reference,
      search,
      cost,
    );
    const unknown = [e.reference, ...e.candidates.map((c) => c.rung)].filter((r) => !cost(r)).length;
    log(`plan (successive halving, keep 1/${search.eta} a round, the reference in every round):`);
    for (const [i, r] of rounds.entries())
      log(
        `  round ${i}: ${r.candidates} candidates x ${r.passes} passes${r.estimate_s !== undefined ? `, about ${minutes(r.estimate_s)}` : ''}${i === 0 ? ' (and the fp32 reference images of the quality guard)' : ''}`,
      );
    if (unknown)
      log(
        `  cost unknown for ${unknown} configurations (no earlier run of this model and shapes here): the screening round will tell`,
      );
    const screening = rounds[0]?.estimate_s;
    const total = screening === undefined ? undefined : rounds.reduce((s, r) => s + (r.estimate_s ?? 0), 0);
    if (screening !== undefined) {
      log(`  expected: ${minutes(total!)} if every round runs; budget ${minutes(budgetS)}`);
      if (screening > budgetS)
        throw new UserError(
          `--budget ${a.budget}: the screening round alone should take about ${minutes(screening)}; give more time or a smaller space`,
        );
    }
    if (a['dry-run']) {
      if (a.json)
        printJson({
          space: space.name,
          objective: a.objective,
          budget_s: budgetS,
          combinations: e.combinations,
          not_applicable: e.notApplicable,
          pruned: e.pruned,
          candidates: e.candidates.map((c) => ({ id: c.id, values: c.values })),
          plan: rounds,
          cost_unknown: unknown,
          expected_s: total ?? null,
        });
      return;
    }

    const outDir = outDirFrom(a, `tune-${space.name}-${a.profile}`, a.resume);
    if (!a.resume && !a.force && existsSync(path.join(outDir, 'round-0')))
      throw new UserError(
        `--out ${a.out}: already holds a search: give --resume to continue it, --force to replace it`,
      );
    const settings = settingsFrom(a, '', outDir);
    mkdirSync(settings.outDir, { recursive: true });
    const exec = new RunExecutor(e.reference, settings, settings.outDir, log, a.resume, a.objective);
    const res = await successiveHalving(e.candidates, e.reference.id, exec, search);
    const doc = {
      space,
      objective: a.objective,
      budget_s: budgetS,
      enumerated: e,
      plan: rounds,
      search: res,
      command: settings.command,
    };
    writeJsonAtomic(path.join(settings.outDir, 'tune.json'), doc);
    writeFileAtomic(path.join(settings.outDir, 'tune.md'), renderTune(space.name, e, res, a.objective));
    try {
      const svg = await specToSvg(tuneChartSpec(e, res, a.objective));
      writeFileAtomic(path.join(settings.outDir, 'tune.svg'), svg);
      writeFileAtomic(path.join(settings.outDir, 'tune.png'), await svgToPng(svg));
    } catch (err) {
      log(`  chart: ${(err as Error).message}`);
    }
    const winner = e.candidates.find((c) => c.id === res.winner);
    if (winner) {
      const file = path.join(settings.outDir, 'best.yaml');
      const schema = path.relative(settings.outDir, path.join(repoRoot, 'ladders', 'ladder.schema.json'));
      writeFileAtomic(file, bestYaml(e.reference, winner, settings.command, schema));
      log(`winner: ${winner.id} (${describeValues(winner.values)}); ladder: ${file}`);
    } else {
      log('no winner: no candidate was measured correctly above the quality floor');
      process.exitCode = EXIT.FAILED;
    }
    log(`stopped: ${res.stop}; report: ${path.join(settings.outDir, 'tune.md')}`);
    if (a.json) printJson({ ...doc, dir: settings.outDir });
  },
};
