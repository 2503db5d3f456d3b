import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from '../errors.ts';
import { REPORT_FILES, writeReports } from '../results/html.ts';
import { placeOnRoofline } from '../results/roofline.ts';
import { SCHEMA_VERSION, type RunFile } from '../results/run-file.ts';

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Reads DIR/run.json; anything wrong with it is the user's to fix: one line, exit 2. */
export function readRunFile(dir: string): RunFile {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new UserError(`${dir}: no such directory`);
  }
  if (!st.isDirectory()) throw new UserError(`${dir} is not a directory (give the run's directory, the one holding run.json)`);
  const file = path.join(dir, 'run.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `${file}: not found (is ${dir} a ladder run directory?)` : `${file}: cannot read it (${code ?? (err as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${file}: not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const bad = (what: string) => new UserError(`${file}: not a ladder run file: ${what}`);
  if (!isObject(data)) throw bad('expected a JSON object');
  if (typeof data.schema_version !== 'number') throw bad('schema_version missing');
  if (data.schema_version > SCHEMA_VERSION) throw new UserError(`${file}: schema_version ${data.schema_version} is newer than this ladder reads (${SCHEMA_VERSION}); update ladder`);
  if (typeof data.command !== 'string') throw bad('command missing');
  if (!isObject(data.machine)) throw bad('machine missing');
  data.machine.isa ??= {};
  if (!Array.isArray(data.rungs)) throw bad('rungs is not a list');
  data.rungs.forEach((r: unknown, i: number) => {
    if (!isObject(r) || typeof r.id !== 'string') throw bad(`rungs[${i}] has no id`);
    if (!['ok', 'failed', 'running'].includes(r.status as string)) throw bad(`rung ${r.id}: status ${JSON.stringify(r.status)} is not ok, failed or running`);
    if (r.samples_s !== undefined && !Array.isArray(r.samples_s)) throw bad(`rung ${r.id}: samples_s is not a list`);
    if (r.stats !== undefined && !isObject(r.stats)) throw bad(`rung ${r.id}: stats is not an object`);
    r.samples_s ??= [];
    r.config ??= {};
  });
  return data as unknown as RunFile;
}

export const reportCommand = {
  command: 'report <dir>',
  describe: "(Re)write a run's reports from its run.json: report.md, results.csv, report.html, chart.svg, chart.png",
  builder: (y: Argv) =>
    y.positional('dir', { type: 'string', describe: 'the run directory (holds run.json)', demandOption: true }),
  handler: async (a: { dir: string }) => {
    const run = readRunFile(a.dir);
    placeOnRoofline(run);  // recomputed, so a report always follows the current definition
    await writeReports(run, a.dir);
    for (const f of REPORT_FILES) console.log(path.join(a.dir, f));
  },
};
