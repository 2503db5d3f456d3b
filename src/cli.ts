// ladder's command line as a function: argv in, exit code out. Errors end as one line: exit 2 for bad
// input, 1 for a failed run. What belongs to the process (signals, stdout closed early, stale socket
// folders) is bin.ts's, so that tests can run the CLI in their own process.
import yargs from 'yargs';
import { compareCommand } from './commands/compare.ts';
import { applyConfig, configCommand } from './commands/config.ts';
import { doctorCommand } from './commands/doctor.ts';
import { envsCommand } from './commands/envs.ts';
import { explainCommand } from './commands/explain.ts';
import { fleetCommand } from './commands/fleet.ts';
import { nightlyCommand } from './commands/nightly.ts';
import { overheadCommand } from './commands/overhead.ts';
import { reportCommand } from './commands/report.ts';
import { reproduceCommand } from './commands/reproduce.ts';
import { runCommand } from './commands/run.ts';
import { rungsCommand } from './commands/rungs.ts';
import { trendCommand } from './commands/trend.ts';
import { tuneCommand } from './commands/tune.ts';
import { LadderError, UserError } from './errors.ts';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.ts';
import { releaseAllLocks } from './lock.ts';
import { checkDecimal } from './rungs/settings.ts';
import { didYouMean } from './suggest.ts';
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
    return EXIT.FAILED;
  }
  return err.exitCode;
}

type Internals = {
  getOptions(): { key: Record<string, unknown>; number?: string[]; choices?: Record<string, unknown[]> };
  getInternalMethods(): { getCommandInstance(): { getCommands(): string[] } };
};

/**
 * yargs's "Unknown argument(s): a, b" said for people: the option or command given, what the
 * command knows that is nearest to it, and which command refused it.
 */
export function unknownArguments(msg: string, raw: string[], known: string[], commands: string[]): string | undefined {
  const m = /^Unknown arguments?: (.*)$/.exec(msg);
  if (!m) return undefined;
  const words = m[1]!.split(', ');
  // The command that refused it ("for envs", "for reproduce"), unless the word is that command.
  const command = raw.find((a) => !a.startsWith('-'));
  const where = command && !words.includes(command) ? ` for ${command}` : '';
  // yargs names a dashed flag twice (min-psnr, minPsnr): keep the spelling given.
  const given = words.filter((w) => raw.some((a) => a === w || a.replace(/^-+(no-)?/, '').split('=')[0] === w));
  return (given.length ? given : words)
    .map((w) => {
      const isFlag = raw.some((a) => a.startsWith('-') && a.replace(/^-+(no-)?/, '').split('=')[0] === w);
      if (isFlag) return `unknown option --${w}${where}${didYouMean(w, known, '--')}`;
      return `unknown ${commands.length ? 'command' : 'argument'} '${w}'${where}${didYouMean(w, commands)}`;
    })
    .join('; ');
}

/**
 * Runs one command line (without `node` and the script) and returns its exit code. Commands report
 * a failed rung or a regression through `process.exitCode`: read here and reset, so that one call
 * never leaks its code into the next.
 */
export async function main(argv: string[]): Promise<number> {
  const before = process.exitCode;
  process.exitCode = undefined;
  const cli = yargs(argv);
  // yargs knows a command's options only once its builder has run: asked from the middleware and .fail.
  const internals = cli as unknown as Internals;
  const numberOptions = () => internals.getOptions().number ?? [];
  const knownOptions = () => Object.keys(internals.getOptions().key).filter((k) => k.length > 1 && !/[A-Z]/.test(k));
  let code = 0;
  try {
    await cli
      .scriptName('ladder')
      .usage('$0 <command> [options]\n\nReproduce, verify and extend the Stable Diffusion CPU optimization ladder.')
      .command(reproduceCommand as never)
      .command(runCommand as never)
      .command(explainCommand as never)
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
      .command(configCommand as never)
      .demandCommand(1, 'name a command (see --help)')
      // yargs reads 0x10 as 16: a number flag takes decimal numbers only.
      .middleware(() => checkDecimal(argv, numberOptions()))
      .middleware((a) => applyConfig(a as never, argv, internals.getOptions().choices ?? {}))
      .parserConfiguration({ 'duplicate-arguments-array': false }) // a repeated flag: the last one wins
      .strict()
      .fail((msg, err) => {
        if (err) throw err;
        const commands = internals.getInternalMethods().getCommandInstance().getCommands();
        const said = unknownArguments(msg ?? '', argv, knownOptions(), commands);
        // yargs spreads some messages over lines ("Invalid values:\n  Argument: ..."): keep all of it.
        throw new UserError(said ?? msg.replace(/\s*\n\s*/g, ' '));
      })
      .example('$0 reproduce', 'the article ladder, quick profile (minutes per rung)')
      .example('$0 run baseline --profile smoke', 'one rung in seconds')
      .example('$0 rungs --ladder beyond', 'what a ladder holds')
      .example('$0 compare results/runs/A results/runs/B', 'two runs rung by rung')
      .example('$0 config', 'the defaults and where each came from')
      .epilogue(
        `${EXIT_CODES_HELP}\n\nEvery command that reports something takes --json: one JSON document on stdout (docs/json.md).`,
      )
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
