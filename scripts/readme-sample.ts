// Rewrites README.md's "Sample output" (between <!-- sample:begin --> and <!-- sample:end -->) from a
// run: report.md's rungs table and best lines, made by the renderers report.md uses, plus the command,
// model, scenario and wall time the run.json records, and which run.json it came from.
// `npx tsx scripts/readme-sample.ts RUN_DIR`; test/unit/readme.test.ts fails while the README's
// section is not what this writes for the run.json it names.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/files.ts';
import { repoRoot } from '../src/paths.ts';
import { bestLines } from '../src/render/best.ts';
import { mdText } from '../src/render/markdown.ts';
import { renderTable } from '../src/render/report.ts';
import { type RunFile, readRunFile } from '../src/results/run-file.ts';

export const BEGIN = '<!-- sample:begin -->';
export const END = '<!-- sample:end -->';
export const README = path.join(repoRoot, 'README.md');

/** 7782.5 s -> "2 h 9 min 43 s". */
function duration(s: number): string {
  const t = Math.round(s);
  const [h, m, sec] = [Math.floor(t / 3600), Math.floor((t % 3600) / 60), t % 60];
  return [h ? `${h} h` : '', h || m ? `${m} min` : '', `${sec} s`].filter(Boolean).join(' ');
}

/** The run's scenario in words, from its first rung's config (every rung of a run shares it). */
function scenario(run: RunFile): string {
  const c = run.rungs[0]?.config as { model?: string; scenario?: Record<string, unknown> } | undefined;
  const s = c?.scenario ?? {};
  const rounds = run.rounds?.done.length ?? 1;
  const model = run.rungs.find((r) => r.effective?.model)?.effective?.model?.name ?? c?.model ?? '?';
  const per = rounds === 1 ? 'in one round' : `in each of ${rounds} rounds`;
  return `model ${model}, ${s.width}x${s.height}, ${s.steps} steps, ${s.passes} passes per rung ${per}`;
}

/** The section between the markers for the run.json at `file` (relative to the repository). */
export function sampleSection(file: string, run: RunFile): string {
  const wall = run.finished
    ? duration((Date.parse(run.finished) - Date.parse(run.started)) / 1000)
    : 'unfinished';
  return [
    BEGIN,
    `<!-- written by \`npx tsx scripts/readme-sample.ts ${path.dirname(file)}\` from ${file}; do not edit by hand -->`,
    '',
    `From \`${file}\`: \`${run.command}\` on ${mdText(run.machine.cpu_model)} (${run.machine.logical_cpus} logical CPUs), ${mdText(scenario(run))}; it took ${wall} (started ${run.started}). report.md's table and best line:`,
    '',
    renderTable(run),
    '',
    ...bestLines(run).flatMap((line) => [mdText(line), '']),
    END,
  ].join('\n');
}

/** The README with its sample section replaced. */
export function withSample(readme: string, section: string): string {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${BEGIN} ... ${END} section`);
  return readme.slice(0, a) + section + readme.slice(b + END.length);
}

/** The current section and the run.json it names (relative to the repository), if any. */
export function currentSample(readme: string): { section: string; file?: string } {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  const section = a < 0 || b < a ? '' : readme.slice(a, b + END.length);
  return { section, file: /from (\S+run\.json); do not edit/.exec(section)?.[1] };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: npx tsx scripts/readme-sample.ts RUN_DIR');
    process.exit(2);
  }
  try {
    const { run } = readRunFile(dir);
    const file = path.relative(repoRoot, path.resolve(dir, 'run.json'));
    writeFileAtomic(README, withSample(readFileSync(README, 'utf8'), sampleSection(file, run)));
    console.log(`README.md: sample output from ${file}`);
  } catch (err) {
    console.error(`readme-sample: error: ${(err as Error).message}`);
    process.exit(2);
  }
}
