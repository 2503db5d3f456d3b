import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';
import { thresholdBands } from '../nightly/judge.ts';
import { checkOutFile } from '../out-dir.ts';
import { renderTrendHtml, trendSvg } from '../render/trend.ts';
import { type RunFile, readHistory } from '../results/run-file.ts';
import { DEFAULT_HISTORY, jsonOption, printJson } from './options.ts';

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** The machine's directory: --machine, else the only one there is. */
function machineDir(history: string, machine: string | undefined): { id: string; dir: string } {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(history);
  } catch {
    throw new UserError(`${history}: no such directory (the nightly history, results/history by default)`);
  }
  if (!st.isDirectory()) throw new UserError(`${history} is not a directory (give the nightly history directory)`);
  const ids = readdirSync(history)
    .filter((n) => isDir(path.join(history, n)))
    .sort();
  if (machine !== undefined) {
    if (!ids.includes(machine))
      throw new UserError(`${history}: no machine ${JSON.stringify(machine)} (machines: ${ids.join(', ') || 'none'})`);
    return { id: machine, dir: path.join(history, machine) };
  }
  if (ids.length === 0)
    throw new UserError(`${history}: no machine directories (has a nightly run stored anything yet?)`);
  if (ids.length > 1)
    throw new UserError(`${history} holds ${ids.length} machines: pick one with --machine (${ids.join(', ')})`);
  return { id: ids[0]!, dir: path.join(history, ids[0]!) };
}

/** Every readable <stamp>/run.json, oldest first; the others are skipped with a warning. */
function readNights(dir: string): RunFile[] {
  const { runs, skipped } = readHistory(dir);
  for (const s of skipped)
    console.error(`ladder: warning: skipping ${path.basename(path.dirname(s.file))}: ${s.reason}`);
  return runs.map((h) => h.run);
}

/** Writes the page, its folder too; any failure is one line naming the path. */
function writePage(out: string, html: string): void {
  try {
    writeFileAtomic(out, html);
  } catch (err) {
    const reason = ((err as Error).message ?? String(err)).replace(/\s+/g, ' ');
    throw new UserError(`cannot write the trend page ${out}: ${reason}`, { cause: err, stage: 'report' });
  }
}

export const trendCommand = {
  command: 'trend',
  describe: "Draw one machine's nightly history as a self-contained trend.html (median per night and rung)",
  builder: (y: Argv) =>
    jsonOption(y, 'the page written and the nights drawn')
      .option('history', {
        type: 'string',
        describe: "the nightly history directory (default: the repo's results/history)",
      })
      .option('machine', {
        type: 'string',
        describe: 'machine id (a directory under --history); needed when there are several',
      })
      .option('out', { type: 'string', describe: 'the HTML file to write (default: <history>/<machine>/trend.html)' }),
  handler: async (a: { history?: string; machine?: string; out?: string; json: boolean }) => {
    const history = a.history !== undefined ? path.resolve(a.history) : DEFAULT_HISTORY;
    if (a.out !== undefined) checkOutFile(a.out, '--out');
    const { id, dir } = machineDir(history, a.machine);
    const nights = readNights(dir);
    if (!nights.length) throw new UserError(`${dir}: no readable nightly run.json`);
    const out = checkOutFile(a.out ?? path.join(dir, 'trend.html'), '--out');
    const svg = await trendSvg(nights, id, thresholdBands(nights));
    writePage(out, renderTrendHtml(nights, id, svg));
    if (a.json) printJson({ out, machine_id: id, nights: nights.length, history });
    else console.log(out);
  },
};
