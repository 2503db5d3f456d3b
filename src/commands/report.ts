import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from '../errors.ts';
import { checkWritableDir } from '../out-dir.ts';
import { REPORT_FILES, writeReports } from '../render/html.ts';
import { placeOnRoofline } from '../results/roofline.ts';
import { readRunFile } from '../results/run-file.ts';
import { jsonOption, printJson } from './options.ts';

export const reportCommand = {
  command: 'report <dir>',
  describe:
    "(Re)write a run's reports from its run.json: report.md, results.csv, report.html and its pictures (SVG and PNG)",
  builder: (y: Argv) =>
    jsonOption(y, 'the files written').positional('dir', {
      type: 'string',
      describe: 'the run directory (holds run.json)',
      demandOption: true,
    }),
  handler: async (a: { dir: string; json: boolean }) => {
    if (existsSync(a.dir) && !statSync(a.dir).isDirectory()) {
      throw new UserError(`${a.dir} is not a directory (give the run's directory, the one holding run.json)`);
    }
    checkWritableDir(a.dir, 'run folder');
    const { run } = readRunFile(a.dir);
    placeOnRoofline(run); // recomputed, so a report always follows the current definition
    try {
      await writeReports(run, a.dir);
    } catch (err) {
      // A full disk or a read-only folder is the user's to fix: one line (each file is written
      // atomically, so the reports already there stay whole).
      const code = (err as NodeJS.ErrnoException).code;
      if (!code) throw err;
      throw new UserError(`cannot write the reports into ${a.dir}: ${(err as Error).message.split('\n')[0]}`, {
        cause: err,
        stage: 'report',
      });
    }
    const files = REPORT_FILES.map((f) => path.join(a.dir, f));
    if (a.json) printJson({ dir: a.dir, files });
    else for (const f of files) console.log(f);
  },
};
