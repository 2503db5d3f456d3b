// ladder's command line as a function: argv in, exit code out. Errors end as one line: exit 2 for bad
// input, 1 for a failed run. What belongs to the process (signals, stdout closed early, stale socket
// folders) is bin.ts's, so that tests can run the CLI in their own process.
import yargs from 'yargs';
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
import { releaseAllLocks } from './lock.ts';
import { checkDecimal } from './rungs/settings.ts';
import { killAllWorkers } from './worker/session.ts';

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

// yargs knows its number options only once a command's builder has run: asked from the middleware.
/**
 * Runs one command line (without `node` and the script) and returns its exit code. Commands report
 * a failed rung or a regression through `process.exitCode`: read here and reset, so that one call
 * never leaks its code into the next.
 */
export async function main(argv: string[]): Promise<number> {
  const before = process.exitCode;
  process.exitCode = undefined;
  const cli = yargs(argv);
  const numberOptions = () => (cli as unknown as { getOptions(): { number?: string[] } }).getOptions().number ?? [];
  let code = 0;
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
      .middleware(() => checkDecimal(argv, numberOptions()))
      .parserConfiguration({ 'duplicate-arguments-array': false }) // a repeated flag: the last one wins
      .strict()
      .config(loadConfig())
      .fail((msg, err) => {
        // yargs spreads some messages over lines ("Invalid values:\n  Argument: ..."): keep all of it.
        throw err ?? new UserError(msg.replace(/\s*\n\s*/g, ' '));
      })
      .help()
      .exitProcess(false) // --help and --version print and return: the caller owns the process
      .wrap(Math.min(110, process.stdout.columns || 100))
      .parseAsync();
    code = Number(process.exitCode ?? 0);
  } catch (err) {
    killAllWorkers();
    code = report(err);
  } finally {
    releaseAllLocks(); // a run's claim on its folder ends with the command
    process.exitCode = before;
  }
  return code;
}
