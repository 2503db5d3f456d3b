import type { Argv } from 'yargs';
import { EXIT } from '../exit-codes.ts';
import { executeRun } from '../run/execute.ts';
import { applyOverrides } from '../rungs/ladder.ts';
import { DRY_RUN_NOTE, dryRunPlan, printDryRun } from './dry-run.ts';
import {
  type CommonArgs,
  checkFlags,
  explainOption,
  jsonOption,
  ladderFrom,
  ladderOption,
  outOptions,
  printJson,
  type RoundsArgs,
  repeated,
  roundsFrom,
  roundsOptions,
  scenarioOptions,
  setOption,
  settingsFrom,
  unknownRung,
} from './options.ts';

export const runCommand = {
  command: 'run <rung>',
  describe: 'Run one rung of a ladder in fresh workers (one per round) and print its passes and median',
  builder: (y: Argv) =>
    jsonOption(
      outOptions(
        setOption(
          ladderOption(
            roundsOptions(
              explainOption(
                scenarioOptions(
                  y.positional('rung', { type: 'string', demandOption: true, describe: 'rung id (see: ladder rungs)' }),
                ),
              ),
            ),
          ),
        ),
      ),
      'the run document (run.json), or with --dry-run the plan,',
    )
      .option('dry-run', {
        type: 'boolean',
        default: false,
        describe: "print how the rung's workers would be started, run nothing",
      })
      .example('$0 run baseline', "the article's baseline at the quick profile")
      .example('$0 run combined --ladder beyond --profile smoke', 'a rung of another ladder, in seconds')
      .example('$0 run jemalloc --dry-run', 'how its worker would start'),
  handler: async (a: CommonArgs & RoundsArgs & { rung: string; ladder: string; json: boolean; 'dry-run': boolean }) => {
    const ladder = ladderFrom(a);
    const found = ladder.rungs.find((r) => r.id === a.rung);
    if (!found) throw unknownRung(a.rung, ladder);
    const rung = applyOverrides(found, repeated('set', a.set));
    if (a['dry-run']) {
      checkFlags(a);
      roundsFrom(a);
      if (a.json) return printJson({ rungs: await dryRunPlan([rung], a.threads), note: DRY_RUN_NOTE });
      return printDryRun([rung], a.threads);
    }
    const log = a.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
    const rounds = roundsFrom(a); // checked before settingsFrom makes the run's folder
    const run = await executeRun(ladder, [rung], { ...settingsFrom(a, rung.id), rounds }, log);
    if (a.json) printJson(run);
    if (run.rungs.some((r) => r.status !== 'ok' && r.status !== 'skipped')) process.exitCode = EXIT.FAILED;
  },
};
