// `ladder nightly`: one run a night into the machine's history, judged against its recent nights.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { topLevelPackages } from '../envs/stacks.ts';
import { lockOwner, tryLock, unlock } from '../lock.ts';
import { machineId } from '../nightly/history.ts';
import {
  attributeChanges,
  DEFAULT_JUDGE,
  judge,
  type RungVerdict,
  type VersionChange,
  verdictLine,
  versionChanges,
} from '../nightly/judge.ts';
import { repoRoot } from '../paths.ts';
import { machine } from '../results/machine.ts';
import { checkWritableDir, newRunDir } from '../results/out-dir.ts';
import { mdText } from '../results/report.ts';
import { readHistory, writeRunFile } from '../results/run-file.ts';
import { executeRun } from '../run/execute.ts';
import { checkResumable } from '../run/store.ts';
import { checkNumber } from '../rungs/settings.ts';
import { selectedRungs, selectionOptions } from './reproduce.ts';
import {
  type CommonArgs,
  ladderFrom,
  type RoundsArgs,
  roundsFrom,
  roundsOptions,
  scenarioOptions,
  settingsFrom,
} from './run.ts';

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

function summaryLine(id: string, verdicts: RungVerdict[], changes: VersionChange[], dir: string): string {
  const count = (v: string) => verdicts.filter((x) => x.verdict === v).length;
  const moved = verdicts
    .filter((x) => x.verdict === 'regressed' || x.verdict === 'improved')
    .map((x) => `${verdictLine({ ...x, versions: undefined })} p=${x.p!.toPrecision(2)}`);
  const parts = ['regressed', 'improved', 'unchanged', 'unstable', 'insufficient', 'new', 'failed']
    .filter((v) => count(v))
    .map((v) => `${count(v)} ${v}`);
  const versions = changes.length
    ? `; versions changed: ${changes.map((c) => `${c.env}:${c.package} ${c.from ?? '-'} -> ${c.to ?? '-'}`).join(', ')}`
    : '';
  // A rung that moved along with its environment's packages gets its own line: the first suspect.
  const suspects = verdicts.filter((x) => x.versions?.length).map((x) => verdictLine(x));
  return [
    `nightly ${id}: ${parts.join(', ')}${moved.length ? ` (${moved.join('; ')})` : ''}${versions}; ${dir}`,
    ...suspects,
  ].join('\n');
}

/** The night as Markdown (a CI comment); text from the run (details, package names and versions) escaped by mdText. */
export function markdown(id: string, verdicts: RungVerdict[], changes: VersionChange[]): string {
  const rows = verdicts.map(
    (v) =>
      `| ${mdText(v.id)} | ${v.verdict === 'regressed' ? '**regressed**' : mdText(v.verdict)} | ${v.ratio?.toFixed(3) ?? '–'} | ${v.p?.toPrecision(2) ?? '–'} | ${mdText([v.detail, v.versions?.length ? `with ${v.versions.join(', ')}` : ''].filter(Boolean).join('; '))} |`,
  );
  const versions = changes.map(
    (c) => `- ${mdText(c.env)}: ${mdText(c.package)} ${mdText(c.from ?? '(none)')} → ${mdText(c.to ?? '(removed)')}`,
  );
  return [
    `### ladder nightly (machine ${mdText(id)})`,
    '',
    '| rung | verdict | ratio vs recent nights | p | detail |',
    '|---|---|---|---|---|',
    ...rows,
    ...(versions.length ? ['', 'Package versions changed since the previous night:', '', ...versions] : []),
  ].join('\n');
}

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
    const rungs = selectedRungs(ladder, a);
    const id = machineId(machine());
    const machineDir = path.join(checkWritableDir(a.history, '--history'), id);
    const lock = path.join(machineDir, '.lock');
    mkdirSync(machineDir, { recursive: true });
    // Two runs on one machine would disturb each other; a lock whose owner died is taken over.
    if (!tryLock(lock)) {
      const owner = lockOwner(lock);
      console.error(`ladder: another nightly run (pid ${owner?.pid ?? '?'}) holds ${lock}`);
      process.exitCode = EXIT_LOCKED;
      return;
    }
    try {
      const { runs: history, skipped } = readHistory(machineDir);
      for (const s of skipped) console.error(`ladder: warning: skipping ${s.file}: ${s.reason}`);
      const unfinished = a.resume ? [...history].reverse().find((h) => !h.run.finished) : undefined;
      const rounds = roundsFrom(a); // checked before the night's folder is made
      // Every flag checked (and a resume proven compatible) before the night's folder is made: a night
      // that fails validation leaves no empty folder behind.
      const checked = settingsFrom(a, 'nightly', unfinished?.dir ?? machineDir);
      if (unfinished) checkResumable(unfinished.run, ladder, checked, rungs);
      const settings = { ...checked, outDir: unfinished?.dir ?? newRunDir(machineDir, ''), rounds };
      if (a.resume) console.error(unfinished ? `resuming ${unfinished.dir}` : 'nothing to resume: starting a new run');
      const log = (line: string) => console.error(line);
      const run = await executeRun(ladder, rungs, settings, log, unfinished?.run);
      const earlier = history.filter((h) => h.dir !== settings.outDir && h.run.finished).map((h) => h.run);
      const changes = versionChanges(earlier[earlier.length - 1], run);
      const verdicts = attributeChanges(
        judge(run, earlier, { window: a.window, alpha: a.alpha, factor: a.factor, minNights: a['min-nights'] }),
        run,
        changes,
        topLevelPackages,
      );
      run.nightly = { machine_id: id, verdicts, version_changes: changes };
      writeRunFile(settings.outDir, run);
      console.log(a.markdown ? markdown(id, verdicts, changes) : summaryLine(id, verdicts, changes, settings.outDir));
      if (verdicts.some((v) => v.verdict === 'regressed')) process.exitCode = EXIT_REGRESSION;
      else if (verdicts.some((v) => v.verdict === 'failed')) process.exitCode = EXIT_FAILED;
    } finally {
      unlock(lock);
    }
  },
};
