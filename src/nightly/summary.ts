// A night's verdicts as one line for the console (with a line per suspect rung) and as Markdown for
// a CI comment.

import { mdText } from '../render/markdown.ts';
import { type RungVerdict, type VersionChange, verdictLine } from './judge.ts';

export function summaryLine(id: string, verdicts: RungVerdict[], changes: VersionChange[], dir: string): string {
  const count = (v: string) => verdicts.filter((x) => x.verdict === v).length;
  const moved = verdicts
    .filter((x) => x.verdict === 'regressed' || x.verdict === 'improved')
    .map((x) => `${verdictLine({ ...x, versions: undefined })} p=${x.p!.toPrecision(2)}`);
  const parts = ['regressed', 'improved', 'unchanged', 'unstable', 'insufficient', 'new', 'failed']
    .filter((v) => count(v))
    .map((v) => `${count(v)} ${v}`);
  const versions = changes.length
    ? `; versions changed: ${changes.map((c) => `${c.env}:${c.package} ${c.from ?? '-'} -> ${c.to ?? '-'}`).join(', ')}`
    : '';
  // A rung that moved along with its environment's packages gets its own line: the first suspect.
  const suspects = verdicts.filter((x) => x.versions?.length).map((x) => verdictLine(x));
  return [
    `nightly ${id}: ${parts.join(', ')}${moved.length ? ` (${moved.join('; ')})` : ''}${versions}; ${dir}`,
    ...suspects,
  ].join('\n');
}

/** The night as Markdown (a CI comment); text from the run (details, package names and versions) escaped by mdText. */
export function markdown(id: string, verdicts: RungVerdict[], changes: VersionChange[]): string {
  const rows = verdicts.map(
    (v) =>
      `| ${mdText(v.id)} | ${v.verdict === 'regressed' ? '**regressed**' : mdText(v.verdict)} | ${v.ratio?.toFixed(3) ?? '–'} | ${v.p?.toPrecision(2) ?? '–'} | ${mdText([v.detail, v.versions?.length ? `with ${v.versions.join(', ')}` : ''].filter(Boolean).join('; '))} |`,
  );
  const versions = changes.map(
    (c) => `- ${mdText(c.env)}: ${mdText(c.package)} ${mdText(c.from ?? '(none)')} → ${mdText(c.to ?? '(removed)')}`,
  );
  return [
    `### ladder nightly (machine ${mdText(id)})`,
    '',
    '| rung | verdict | ratio vs recent nights | p | detail |',
    '|---|---|---|---|---|',
    ...rows,
    ...(versions.length ? ['', 'Package versions changed since the previous night:', '', ...versions] : []),
  ].join('\n');
}
