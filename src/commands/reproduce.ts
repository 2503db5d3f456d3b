import path from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from '../errors.ts';
import { EXIT } from '../exit-codes.ts';
import { machine, machineId } from '../machine.ts';
import { checkWritableDir, newRunDir } from '../out-dir.ts';
import { bestLines } from '../render/best.ts';
import { renderTable } from '../render/report.ts';
import { readRunFile } from '../results/run-file.ts';
import { executeRun } from '../run/execute.ts';
import { checkResumable } from '../run/store.ts';
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
  roundsFrom,
  roundsOptions,
  scenarioOptions,
  selectedRungs,
  selectionOptions,
  setOption,
  settingsFrom,
} from './options.ts';

export const reproduceCommand = {
  command: 'reproduce',
  describe:
    "Run the whole ladder in interleaved rounds, one fresh worker per rung and round, and print it beside the article's figures",
  builder: (y: Argv) =>
    jsonOption(
      outOptions(setOption(ladderOption(roundsOptions(selectionOptions(explainOption(scenarioOptions(y))))))),
      'the run document (run.json), or with --dry-run the plan,',
    )
      .option('resume', {
        type: 'string',
        describe:
          'continue the interrupted run in this folder from its last unfinished round: what it measured is kept, never run again',
      })
      .option('dry-run', {
        type: 'boolean',
        default: false,
        describe: 'print how each worker would be started, run nothing',
      })
      .option('history', {
        type: 'string',
        describe:
          "write the run into this history root, in this machine's folder (<history>/<machine-id>/<time>), as nightly does",
      })
      .example('$0 reproduce', 'the whole article ladder at the quick profile (minutes per rung)')
      .example('$0 reproduce --profile article', "the article's scenario: its figures, 2-3 hours")
      .example('$0 reproduce --only baseline,jemalloc --rounds 3 --json > run.json', 'two rungs, the run as JSON')
      .example('$0 reproduce --dry-run', 'how each worker would start'),
  handler: async (
    a: CommonArgs &
      RoundsArgs & {
        only?: string[];
        skip?: string[];
        'dry-run': boolean;
        json: boolean;
        ladder: string;
        history?: string;
        resume?: string;
      },
  ) => {
    const ladder = ladderFrom(a);
    const rungs = selectedRungs(ladder, a);
    if (a['dry-run']) {
      checkFlags(a);
      roundsFrom(a);
      if (a.json) return printJson({ rungs: await dryRunPlan(rungs, a.threads), note: DRY_RUN_NOTE });
      return printDryRun(rungs, a.threads);
    }
    const rounds = roundsFrom(a); // checked before the run's folder is made
    const label = `${ladder.name}-${a.profile}`;
    if (a.history !== undefined && a.out !== undefined) throw new UserError('--history and --out: give one of them');
    const into =
      a.history === undefined ? undefined : path.join(checkWritableDir(a.history, '--history'), machineId(machine()));
    if (a.resume !== undefined && (a.out !== undefined || a.history !== undefined))
      throw new UserError('--resume continues the run in its own folder: give no --out or --history with it');
    const resumed = a.resume === undefined ? undefined : readRunFile(a.resume);
    const previous = resumed?.run;
    if (previous?.finished)
      throw new UserError(`${a.resume}: that run finished (${previous.finished}); nothing to resume`);
    const dir = resumed ? path.dirname(resumed.file) : into === undefined ? undefined : newRunDir(into, label);
    const settings = { ...settingsFrom(a, label, dir), rounds };
    if (previous) checkResumable(previous, ladder, settings, rungs);
    // --json: progress on stderr, the run document alone on stdout.
    const log = a.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
    if (previous) log(`resuming ${a.resume}`);
    const run = await executeRun(ladder, rungs, settings, log, previous);
    if (a.json) printJson(run);
    else {
      const best = bestLines(run);
      console.log(
        `\n${renderTable(run)}\n${best.length ? `\n${best.join('\n')}\n` : ''}\nreport: ${path.join(settings.outDir, 'report.md')}`,
      );
    }
    if (run.rungs.some((r) => r.status !== 'ok' && r.status !== 'skipped')) process.exitCode = EXIT.FAILED;
  },
};
