// ladder's command line. Errors end as one line: exit 2 for bad input, 1 for a failed run.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { compareCommand } from './commands/compare.ts';
import { doctorCommand } from './commands/doctor.ts';
import { envsCommand } from './commands/envs.ts';
import { fleetCommand } from './commands/fleet.ts';
import { nightlyCommand } from './commands/nightly.ts';
import { overheadCommand } from './commands/overhead.ts';
import { reportCommand } from './commands/report.ts';
import { reproduceCommand } from './commands/reproduce.ts';
import { runCommand } from './commands/run.ts';
import { rungsCommand } from './commands/rungs.ts';
import { trendCommand } from './commands/trend.ts';
import { tuneCommand } from './commands/tune.ts';
import { loadConfig } from './config.ts';
import { LadderError, UserError } from './errors.ts';
import { interruptedLine, killGroups } from './interrupt.ts';
import { releaseAllLocks } from './lock.ts';
import { checkDecimal } from './rungs/settings.ts';
import { killAllWorkers, removeStaleDirs } from './worker/session.ts';

removeStaleDirs(); // socket folders of runs that died without cleaning up

/** One line (plus a failed command's output tail), and the error's own exit code. */
function report(err: unknown): number {
  if (err instanceof UserError) {
    console.error(`ladder: error: ${err.message}`);
  } else if (err instanceof LadderError) {
    console.error(`ladder: ${err.message}`);
    for (const line of err.details.stderrTail ?? []) console.error(`  | ${line}`);
  } else {
    const e = err as Error;
    console.error(`ladder: internal error: ${e?.message ?? String(err)}`);
    if (process.env.LADDER_DEBUG) console.error(e?.stack);
    return 1;
  }
  return err.exitCode;
}

// `ladder rungs | head` closes our stdout early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    killAllWorkers(); // leave no Python process behind, and no socket folder
    killGroups(); // nor a provisioning step's grandchildren
    releaseAllLocks(); // nor a lock that the next run would have to judge stale
    console.error(interruptedLine(sig));
    process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const)[sig]);
  });
}

// yargs knows its number options only once a command's builder has run: asked from the middleware.
const cli = yargs(hideBin(process.argv));
const numberOptions = () => (cli as unknown as { getOptions(): { number?: string[] } }).getOptions().number ?? [];

try {
  await cli
    .scriptName('ladder')
    .usage('$0 <command> [options]\n\nReproduce, verify and extend the Stable Diffusion CPU optimization ladder.')
    .command(reproduceCommand as never)
    .command(runCommand as never)
    .command(rungsCommand as never)
    .command(reportCommand as never)
    .command(doctorCommand as never)
    .command(nightlyCommand as never)
    .command(overheadCommand as never)
    .command(envsCommand as never)
    .command(compareCommand as never)
    .command(trendCommand as never)
    .command(tuneCommand as never)
    .command(fleetCommand as never)
    .demandCommand(1, 'name a command (see --help)')
    // yargs reads 0x10 as 16: a number flag takes decimal numbers only.
    .middleware(() => checkDecimal(hideBin(process.argv), numberOptions()))
    .parserConfiguration({ 'duplicate-arguments-array': false }) // a repeated flag: the last one wins
    .strict()
    .config(loadConfig())
    .fail((msg, err) => {
      // yargs spreads some messages over lines ("Invalid values:\n  Argument: ..."): keep all of it.
      throw err ?? new UserError(msg.replace(/\s*\n\s*/g, ' '));
    })
    .help()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .parseAsync();
} catch (err) {
  killAllWorkers();
  process.exitCode = report(err);
} finally {
  releaseAllLocks(); // a run's claim on its folder ends with the command
}
