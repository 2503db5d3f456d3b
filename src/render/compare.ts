// `ladder compare` as text for the terminal and as Markdown for a pull request.

import type { Comparison, LoadedRun, RungComparison } from '../results/compare.ts';
import type { RunFile } from '../results/run-file.ts';
import { fmtP, fmtRatio } from '../results/significance.ts';
import { mdCode, mdText } from './markdown.ts';

const fmtS = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(3));

const HEAD = ['rung', 'median A (s)', 'median B (s)', 'B/A', 'p', 'n A,B', 'vs baseline A → B', 'verdict'];
const fmtX = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(2)}x`);

function cells(r: RungComparison): string[] {
  return [
    r.id,
    fmtS(r.a?.median_s),
    fmtS(r.b?.median_s),
    fmtRatio(r.ratio),
    r.test ? fmtP(r.test.p) : '–',
    r.a && r.b ? `${r.a.n},${r.b.n}` : '–',
    r.speedup && (r.speedup[0] !== undefined || r.speedup[1] !== undefined)
      ? `${fmtX(r.speedup[0])} → ${fmtX(r.speedup[1])}`
      : '–',
    r.label,
  ];
}

function describe(x: LoadedRun): string {
  const m = x.run.machine as Partial<RunFile['machine']> | undefined;
  return `${x.file} (started ${x.run.started ?? '?'}; ${m?.cpu_model ?? 'unknown CPU'}, ${m?.logical_cpus ?? '?'} logical CPUs)`;
}

function summary(c: Comparison): string {
  const count = (v: RungComparison['verdict']) => c.rows.filter((r) => r.verdict === v).length;
  const parts = [
    `${count('slower')} slower`,
    `${count('faster')} faster`,
    `${count('unchanged')} unchanged`,
    ...(count('inconclusive') ? [`${count('inconclusive')} inconclusive`] : []),
    ...(count('only-a') + count('only-b') ? [`${count('only-a') + count('only-b')} in one run only`] : []),
    ...(count('not-ok') ? [`${count('not-ok')} failed or unfinished`] : []),
  ];
  return parts.join(', ');
}

function rule(c: Comparison): string {
  const { alpha, factor } = c.options;
  return `slower/faster: two-sided Mann-Whitney U test on the passes at p < ${alpha}, and a median ratio B/A above ${(1 + factor).toFixed(3)} / below ${(1 / (1 + factor)).toFixed(3)}. B/A also carries how much the machine moved between the runs; "vs baseline" is each rung's speedup within its own run`;
}

function notesOf(c: Comparison): string[] {
  return c.rows.flatMap((r) => r.notes.map((n) => `${r.id}: ${n}`));
}

/** Aligned plain-text table: numbers right-aligned, names left-aligned. */
export function renderText(c: Comparison): string {
  const rows = [HEAD, ...c.rows.map(cells)];
  const widths = HEAD.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const right = new Set([1, 2, 3, 4, 5, 6]);
  const line = (r: string[]) =>
    r
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const notes = notesOf(c);
  return [
    `A: ${describe(c.a)}`,
    `B: ${describe(c.b)}`,
    ...c.warnings.map((w) => `warning: ${w}`),
    '',
    ...rows.map(line),
    '',
    ...(notes.length ? ['notes:', ...notes.map((n) => `  ${n}`), ''] : []),
    `${summary(c)}.`,
    `${rule(c)}.`,
    '',
  ].join('\n');
}

/** A Markdown table for a pull-request comment. */
export function renderMarkdown(c: Comparison): string {
  const bold = (r: RungComparison, s: string) => (r.verdict === 'slower' || r.verdict === 'faster' ? `**${s}**` : s);
  const notes = notesOf(c);
  return [
    `**A**: ${mdCode(c.a.file)} (started ${mdText(c.a.run.started ?? '?')})  `,
    `**B**: ${mdCode(c.b.file)} (started ${mdText(c.b.run.started ?? '?')})`,
    '',
    ...c.warnings.map((w) => `> **Warning**: ${mdText(w)}\n`),
    `| ${HEAD.join(' | ')} |`,
    `|${HEAD.map((_, i) => (i === 0 || i === HEAD.length - 1 ? '---' : '---:')).join('|')}|`,
    ...c.rows.map((r) => {
      const cs = cells(r).map(mdText);
      cs[cs.length - 1] = bold(r, cs[cs.length - 1]!);
      return `| ${cs.join(' | ')} |`;
    }),
    '',
    ...(notes.length ? [...notes.map((n) => `- ${mdText(n)}`), ''] : []),
    `${summary(c)}.  `,
    `${rule(c)}.`,
    '',
  ].join('\n');
}
