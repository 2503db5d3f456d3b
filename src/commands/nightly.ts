// `ladder nightly`: one run a night into the machine's history, judged against its recent nights.
import path from 'node:path';
import type { Argv } from 'yargs';
import { DEFAULT_JUDGE } from '../nightly/judge.ts';
import { runNight } from '../nightly/night.ts';
import { markdown, summaryLine } from '../nightly/summary.ts';
import { repoRoot } from '../paths.ts';
import { checkNumber } from '../rungs/settings.ts';
import {
  type CommonArgs,
  ladderFrom,
  type RoundsArgs,
  roundsFrom,
  roundsOptions,
  scenarioOptions,
  selectedRungs,
  selectionOptions,
  settingsFrom,
} from './options.ts';

export const EXIT_REGRESSION = 10;
export const EXIT_FAILED = 1;
export const EXIT_LOCKED = 3;

type NightlyArgs = CommonArgs &
  RoundsArgs & {
    'min-nights': number;
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
    roundsOptions(selectionOptions(scenarioOptions(y)))
      .option('history', {
        type: 'string',
        default: path.join(repoRoot, 'results', 'history'),
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
      .epilog(
        `Exit codes: 0 nothing regressed, ${EXIT_REGRESSION} a rung regressed, ${EXIT_FAILED} a rung failed, 2 bad input, ${EXIT_LOCKED} another run holds the lock.`,
      ),
  handler: async (a: NightlyArgs) => {
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
      process.exitCode = EXIT_LOCKED;
      return;
    }
    const { id, verdicts, changes, dir } = night;
    console.log(a.markdown ? markdown(id, verdicts, changes) : summaryLine(id, verdicts, changes, dir));
    if (verdicts.some((v) => v.verdict === 'regressed')) process.exitCode = EXIT_REGRESSION;
    else if (verdicts.some((v) => v.verdict === 'failed')) process.exitCode = EXIT_FAILED;
  },
};
