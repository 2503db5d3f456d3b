// `ladder nightly`: one run a night into the machine's history, judged against its recent nights.
import type { Argv } from 'yargs';
import { UserError } from '../errors.ts';
import { EXIT } from '../exit-codes.ts';
import { DEFAULT_JUDGE } from '../nightly/judge.ts';
import { runNight } from '../nightly/night.ts';
import { markdown, summaryLine } from '../nightly/summary.ts';
import { checkNumber } from '../rungs/settings.ts';
import {
  type CommonArgs,
  DEFAULT_HISTORY,
  jsonOption,
  ladderFrom,
  ladderOption,
  NIGHTLY_PROFILE,
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

type NightlyArgs = CommonArgs &
  RoundsArgs & {
    'min-nights': number;
    ladder: string;
    json: boolean;
    history: string;
    resume: boolean;
    markdown: boolean;
    window: number;
    alpha: number;
    factor: number;
    only?: string[];
    skip?: string[];
  };

export const nightlyCommand = {
  command: 'nightly',
  describe: "Run the ladder into this machine's history and flag regressions against its recent nights",
  builder: (y: Argv) =>
    // No --out: the night's folder is <history>/<machine-id>/<time>, where the next nights look for it.
    jsonOption(
      setOption(ladderOption(roundsOptions(selectionOptions(scenarioOptions(y, NIGHTLY_PROFILE))))),
      "the night (its verdicts and the run's folder)",
    )
      .option('history', {
        type: 'string',
        default: DEFAULT_HISTORY,
        describe: 'history root (one folder per machine)',
      })
      .option('resume', {
        type: 'boolean',
        default: false,
        describe: 'continue the last interrupted run from its first unfinished round (or rung)',
      })
      .option('markdown', {
        type: 'boolean',
        default: false,
        describe: 'print a Markdown summary (for a CI comment) instead of one line',
      })
      .option('window', {
        type: 'number',
        default: DEFAULT_JUDGE.window,
        describe: 'earlier nights the reference pools',
      })
      .option('alpha', {
        type: 'number',
        default: DEFAULT_JUDGE.alpha,
        describe: 'significance level of the Mann-Whitney U test',
      })
      .option('min-nights', {
        type: 'number',
        default: DEFAULT_JUDGE.minNights,
        describe: 'earlier nights a verdict needs: with fewer, a change is "insufficient", never regressed or improved',
      })
      .option('factor', {
        type: 'number',
        default: DEFAULT_JUDGE.factor,
        describe: 'minimum relative change to call a regression',
      })
      .example('$0 nightly --history /srv/ladder-history', "one night into this machine's history")
      .example('$0 nightly --markdown', 'a summary for a CI comment')
      .epilog(
        `Exit codes: ${EXIT.OK} nothing regressed, ${EXIT.REGRESSION} a rung regressed, ${EXIT.FAILED} a rung failed, ${EXIT.BAD_INPUT} bad input, ${EXIT.LOCKED} another run holds the lock.`,
      ),
  handler: async (a: NightlyArgs) => {
    if (a.json && a.markdown) throw new UserError('--json and --markdown: give one of them');
    checkNumber('window', a.window, { int: true, min: 1, max: 1000 });
    checkNumber('alpha', a.alpha, { min: 1e-9, max: 0.5 });
    checkNumber('factor', a.factor, { min: 0, max: 10 });
    checkNumber('min-nights', a['min-nights'], { int: true, min: 1, max: 1000 });
    const ladder = ladderFrom(a);
    const rounds = roundsFrom(a); // checked before the night's folder is made
    const log = (line: string) => console.error(line);
    const night = await runNight({
      ladder,
      rungs: selectedRungs(ladder, a),
      historyRoot: a.history,
      resume: a.resume,
      judge: { window: a.window, alpha: a.alpha, factor: a.factor, minNights: a['min-nights'] },
      settings: (outDir) => ({ ...settingsFrom(a, 'nightly', outDir), rounds }),
      log,
    });
    if (night.locked) {
      console.error(`ladder: another nightly run (pid ${night.owner ?? '?'}) holds ${night.lock}`);
      if (a.json) printJson({ locked: true, lock: night.lock, owner: night.owner ?? null });
      process.exitCode = EXIT.LOCKED;
      return;
    }
    const { id, verdicts, changes, dir } = night;
    if (a.json) printJson({ locked: false, machine_id: id, dir, verdicts, version_changes: changes });
    else console.log(a.markdown ? markdown(id, verdicts, changes) : summaryLine(id, verdicts, changes, dir));
    if (verdicts.some((v) => v.verdict === 'regressed')) process.exitCode = EXIT.REGRESSION;
    else if (verdicts.some((v) => v.verdict === 'failed')) process.exitCode = EXIT.FAILED;
  },
};
