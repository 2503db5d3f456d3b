import type { Argv } from 'yargs';
import { UserError } from '../errors.ts';
import { EXIT } from '../exit-codes.ts';
import { renderMarkdown, renderText } from '../render/compare.ts';
import { compareRuns, DEFAULT_OPTIONS, hasRegression, loadRun } from '../results/compare.ts';
import { terminalText } from '../shell.ts';
import { jsonOption, printJson } from './options.ts';

type CompareArgs = {
  a: string;
  b: string;
  alpha: number;
  factor: number;
  markdown: boolean;
  json: boolean;
  'fail-on-regression': boolean;
};

export const compareCommand = {
  command: 'compare <a> <b>',
  describe: 'Compare two runs rung by rung: medians, B/A, a Mann-Whitney U test and a verdict per rung',
  builder: (y: Argv) =>
    jsonOption(y, 'the comparison')
      .positional('a', {
        type: 'string',
        demandOption: true,
        describe: 'the reference run: a run directory or its run.json',
      })
      .positional('b', { type: 'string', demandOption: true, describe: 'the run compared with it' })
      .option('alpha', {
        type: 'number',
        default: DEFAULT_OPTIONS.alpha,
        describe: 'significance level of the two-sided U test',
      })
      .option('factor', {
        type: 'number',
        default: DEFAULT_OPTIONS.factor,
        describe: 'smallest change that counts: slower if B/A > 1+factor, faster if B/A < 1/(1+factor)',
      })
      .option('markdown', {
        type: 'boolean',
        default: false,
        describe: 'print a Markdown table (for a pull-request comment)',
      })
      .option('fail-on-regression', {
        type: 'boolean',
        default: false,
        describe: `exit with ${EXIT.REGRESSION} (a regression, as nightly) when any rung is 'slower'`,
      })
      .example('$0 compare results/runs/old results/runs/new', 'rung by rung, with a verdict each')
      .example(
        '$0 compare old new --fail-on-regression --markdown',
        `for CI: exit ${EXIT.REGRESSION} when a rung got slower`,
      ),
  handler: (a: CompareArgs) => {
    if (a.json && a.markdown) throw new UserError('--json and --markdown: give one of them');
    if (!(a.alpha > 0 && a.alpha < 1)) throw new UserError(`alpha must be between 0 and 1 (got ${a.alpha})`);
    if (!(a.factor >= 0 && Number.isFinite(a.factor))) throw new UserError(`factor must be >= 0 (got ${a.factor})`);
    const c = compareRuns(loadRun(String(a.a)), loadRun(String(a.b)), { alpha: a.alpha, factor: a.factor });
    const regression = hasRegression(c);
    if (a.json)
      printJson({ a: c.a.file, b: c.b.file, options: c.options, rows: c.rows, warnings: c.warnings, regression });
    else process.stdout.write(terminalText(a.markdown ? renderMarkdown(c) : renderText(c)));
    if (a['fail-on-regression'] && regression) process.exitCode = EXIT.REGRESSION;
  },
};
