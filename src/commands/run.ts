import path from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from '../errors.ts';
import { executeRun } from '../run/execute.ts';
import { applyOverrides } from '../rungs/ladder.ts';
import {
  type CommonArgs,
  ladderFrom,
  type RoundsArgs,
  repeated,
  roundsFrom,
  roundsOptions,
  scenarioOptions,
  settingsFrom,
} from './options.ts';

export const runCommand = {
  command: 'run <rung>',
  describe: 'Run one rung of a ladder in fresh workers (one per round) and print its passes and median',
  builder: (y: Argv) =>
    roundsOptions(
      scenarioOptions(
        y.positional('rung', { type: 'string', demandOption: true, describe: 'rung id (see: ladder rungs)' }),
      ),
    ),
  handler: async (a: CommonArgs & RoundsArgs & { rung: string; json: boolean }) => {
    const ladder = ladderFrom(a);
    const found = ladder.rungs.find((r) => r.id === a.rung);
    if (!found)
      throw new UserError(
        `unknown rung '${a.rung}' (${path.basename(ladder.file)} has: ${ladder.rungs.map((r) => r.id).join(', ')})`,
      );
    const log = a.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
    const rung = applyOverrides(found, repeated('set', a.set));
    const rounds = roundsFrom(a); // checked before settingsFrom makes the run's folder
    const run = await executeRun(ladder, [rung], { ...settingsFrom(a, rung.id), rounds }, log);
    if (a.json) console.log(JSON.stringify(run, null, 2));
    if (run.rungs.some((r) => r.status !== 'ok' && r.status !== 'skipped')) process.exitCode = 1;
  },
};
