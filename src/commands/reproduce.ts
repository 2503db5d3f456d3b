import path from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from '../errors.ts';
import { machineId } from '../nightly/history.ts';
import { bestLines } from '../results/best.ts';
import { machine } from '../results/machine.ts';
import { checkWritableDir, newRunDir } from '../results/out-dir.ts';
import { renderTable } from '../results/report.ts';
import { readRunFile } from '../results/run-file.ts';
import { executeRun } from '../run/execute.ts';
import { checkResumable } from '../run/store.ts';
import { applyOverrides, type Ladder, type Rung } from '../rungs/ladder.ts';
import {
  type CommonArgs,
  checkFlags,
  ladderFrom,
  type RoundsArgs,
  roundsFrom,
  roundsOptions,
  scenarioOptions,
  settingsFrom,
} from './run.ts';
import { printDryRun } from './rungs.ts';

/**
 * Every value of a repeatable flag. yargs keeps only the last of a repeated flag here (so that a
 * repeated scalar flag does not turn into a list), so repeatable ones are read from argv itself.
 */
export function repeated(name: string, given: string[] | undefined, argv = process.argv.slice(2)): string[] {
  const out: string[] = [];
  for (const [i, arg] of argv.entries()) {
    if (arg === '--') break;
    if (arg === `--${name}` && argv[i + 1] !== undefined) out.push(argv[i + 1]!);
    else if (arg.startsWith(`--${name}=`)) out.push(arg.slice(name.length + 3));
  }
  return out.length ? out : (given ?? []);
}

const list = (name: string, v: string[] | undefined) =>
  repeated(name, v)
    .flatMap((x) => x.split(','))
    .map((x) => x.trim())
    .filter(Boolean);

/** --only / --skip, comma-separated or repeated. */
export function selectionOptions<T>(y: Argv<T>) {
  return y
    .option('only', { type: 'string', array: true, describe: 'run only these rungs (comma-separated or repeated)' })
    .option('skip', { type: 'string', array: true, describe: 'leave these rungs out' });
}

/** The ladder's rungs that --only and --skip leave, in ladder order. */
export function selectedRungs(ladder: Ladder, a: { only?: string[]; skip?: string[]; set?: string[] }): Rung[] {
  const only = list('only', a.only);
  const skip = list('skip', a.skip);
  // `--only ,` names nothing: running every rung instead would be the opposite of what was asked.
  if (a.only !== undefined && !only.length) throw new UserError('--only names no rung');
  if (a.skip !== undefined && !skip.length) throw new UserError('--skip names no rung');
  return selectRungs(ladder, only, skip).map((r) => applyOverrides(r, repeated('set', a.set)));
}

export function selectRungs(ladder: Ladder, only: string[], skip: string[]): Rung[] {
  const ids = new Set(ladder.rungs.map((r) => r.id));
  for (const id of [...only, ...skip]) {
    if (!ids.has(id))
      throw new UserError(`unknown rung '${id}' (${path.basename(ladder.file)} has: ${[...ids].join(', ')})`);
  }
  const chosen = ladder.rungs.filter((r) => (!only.length || only.includes(r.id)) && !skip.includes(r.id));
  if (!chosen.length) throw new UserError('--only/--skip leave no rung to run');
  return chosen;
}

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
