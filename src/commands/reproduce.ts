import path from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from '../errors.ts';
import { machine, machineId } from '../machine.ts';
import { checkWritableDir, newRunDir } from '../out-dir.ts';
import { bestLines } from '../render/best.ts';
import { renderTable } from '../render/report.ts';
import { readRunFile } from '../results/run-file.ts';
import { executeRun } from '../run/execute.ts';
import { checkResumable } from '../run/store.ts';
import { printDryRun } from './dry-run.ts';
import {
  type CommonArgs,
  checkFlags,
  ladderFrom,
  type RoundsArgs,
  roundsFrom,
  roundsOptions,
  scenarioOptions,
  selectedRungs,
  selectionOptions,
  settingsFrom,
} from './options.ts';

export const reproduceCommand = {
  command: 'reproduce',
  describe:
    "Run the whole ladder in interleaved rounds, one fresh worker per rung and round, and print it beside the article's figures",
  builder: (y: Argv) =>
    roundsOptions(selectionOptions(scenarioOptions(y)))
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
      }),
  handler: async (
    a: CommonArgs &
      RoundsArgs & {
        only?: string[];
        skip?: string[];
        'dry-run': boolean;
        json: boolean;
        history?: string;
        resume?: string;
      },
  ) => {
    const ladder = ladderFrom(a);
    const rungs = selectedRungs(ladder, a);
    if (a['dry-run']) {
      checkFlags(a);
      roundsFrom(a);
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
    if (a.json) console.log(JSON.stringify(run, null, 2));
    else {
      const best = bestLines(run);
      console.log(
        `\n${renderTable(run)}\n${best.length ? `\n${best.join('\n')}\n` : ''}\nreport: ${path.join(settings.outDir, 'report.md')}`,
      );
    }
    if (run.rungs.some((r) => r.status !== 'ok' && r.status !== 'skipped')) process.exitCode = 1;
  },
};
