import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from '../errors.ts';
import { REPORT_FILES, writeReports } from '../results/html.ts';
import { placeOnRoofline } from '../results/roofline.ts';
import { readRunFile } from '../results/run-file.ts';

export const reportCommand = {
  command: 'report <dir>',
  describe: "(Re)write a run's reports from its run.json: report.md, results.csv, report.html, chart.svg, chart.png",
  builder: (y: Argv) =>
    y.positional('dir', { type: 'string', describe: 'the run directory (holds run.json)', demandOption: true }),
  handler: async (a: { dir: string }) => {
    if (existsSync(a.dir) && !statSync(a.dir).isDirectory()) {
      throw new UserError(`${a.dir} is not a directory (give the run's directory, the one holding run.json)`);
    }
    const { run } = readRunFile(a.dir);
    placeOnRoofline(run); // recomputed, so a report always follows the current definition
    await writeReports(run, a.dir);
    for (const f of REPORT_FILES) console.log(path.join(a.dir, f));
  },
};
