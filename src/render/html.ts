// report.html: one self-contained page (inline CSS, the chart as inline SVG, no external URL), and
// writeReports(), which writes every report of a run next to its run.json.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { BACKENDS } from '../backends/registry.ts';
import { RunError } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';
import { runExplains } from '../results/explain.ts';
import type { RunFile, RungResult } from '../results/run-file.ts';
import { bestLines } from './best.ts';
import { chartSvg } from './chart.ts';
import { renderCsv } from './csv.ts';
import { explainLines, explainTable } from './explain.ts';
import { mdText, mdUnescape } from './markdown.ts';
import { esc, inlineSvg, pageHead } from './page.ts';
import {
  machineLine,
  overheadLine,
  renderBreakdown,
  renderReport,
  renderTable,
  renderThroughput,
  roundsParts,
} from './report.ts';
import { RUN_CHARTS, type RunChartName, runChartSvgs } from './run-charts.ts';
import { svgToPng } from './vega.ts';

export const REPORT_FILES = [
  'report.md',
  'results.csv',
  'report.html',
  'chart.svg',
  'chart.png',
  ...RUN_CHARTS.flatMap((c) => [`${c.name}.svg`, `${c.name}.png`]),
] as const;

/** A markdown table of report.md as HTML (its cells parsed back, so both always show the same). */
function markdownTableHtml(
  markdown: string,
  id: string,
  rowClass: (i: number) => string | undefined = () => undefined,
): string {
  const lines = markdown.split('\n').filter((l) => l.startsWith('|'));
  const cells = (line: string) =>
    line
      .replace(/^\|\s?/, '')
      .replace(/\s?\|$/, '')
      .split(' | ');
  const [head, , ...rows] = lines;
  const th = cells(head ?? '')
    .map((c) => `<th scope="col">${esc(mdUnescape(c))}</th>`)
    .join('');
  const body = rows.map((line, i) => {
    const tds = cells(line)
      .map((c, j) => {
        const bold = /^\*\*(.*)\*\*$/.exec(c);
        const text = bold ? `<strong>${esc(mdUnescape(bold[1]!))}</strong>` : esc(mdUnescape(c));
        return j === 0 ? `<th scope="row">${text}</th>` : `<td>${text}</td>`;
      })
      .join('');
    const cls = rowClass(i);
    return `<tr${cls ? ` class="${esc(cls)}"` : ''}>${tds}</tr>`;
  });
  return `<table id="${esc(id)}">\n<thead><tr>${th}</tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`;
}

/** The rungs table, exactly as report.md has it; rows classed by status. */
const tableHtml = (run: RunFile) =>
  markdownTableHtml(renderTable(run), 'rungs', (i) => `status-${run.rungs[i]?.status ?? 'ok'}`);

function throughputHtml(run: RunFile): string {
  const md = renderThroughput(run);
  return md
    ? `<h2>Latency and throughput (instances run at once, each pinned to its own cores)</h2>\n${markdownTableHtml(md, 'throughput')}`
    : '';
}

function roundsHtml(run: RunFile): string {
  const parts = roundsParts(run);
  if (!parts) return '';
  return [
    `<h2>${esc(parts.heading)}</h2>`,
    ...parts.notes.map((n) => `<p class="note">${esc(n)}</p>`),
    parts.table ? markdownTableHtml(parts.table, 'rounds') : '',
    ...(parts.imprecise.length
      ? [`<ul id="imprecise">${parts.imprecise.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`]
      : []),
  ].join('\n');
}

function breakdownHtml(run: RunFile): string {
  const md = renderBreakdown(run);
  return md ? `<h2>Where the time goes (median per pass)</h2>\n${markdownTableHtml(md, 'breakdown')}` : '';
}

/** Each rung run with --explain: its group table and notes, as report.md has them. */
function explainHtml(run: RunFile): string {
  const summaries = runExplains(run);
  if (!summaries.size) return '';
  return [
    '<h2>Where one UNet call goes (--explain)</h2>',
    ...run.rungs.flatMap((r) => {
      const s = summaries.get(r.id);
      return s
        ? [
            `<h3>${esc(r.id)}</h3>`,
            markdownTableHtml(explainTable(s), `explain-${r.id}`),
            notesHtml(explainLines(s).map(mdText), `explain-notes-${r.id}`),
          ]
        : [];
    }),
  ].join('\n');
}

function warningsHtml(run: RunFile): string {
  const items = run.rungs
    .filter((r) => r.warnings?.length)
    .map((r) => `<li><strong>${esc(r.id)}</strong>: ${esc(r.warnings!.join('; '))}</li>`);
  return items.length ? `<h2>Figures to take with care</h2>\n<ul id="warnings">\n${items.join('\n')}\n</ul>` : '';
}

/** What each rung really ran with, as the worker reported it (the proof behind each figure). */
function effectiveHtml(run: RunFile): string {
  const rows = run.rungs
    .filter((r) => r.effective)
    .map((r) => {
      const e = r.effective!;
      const dtype = BACKENDS.get(String(r.config.backend ?? e.backend))?.describe(e) ?? '–';
      const model = e.model
        ? `${e.model.name ?? '?'}${e.model.real_weights === false ? ' (random weights)' : ''}`
        : '–';
      const cols = [
        e.backend ?? '–',
        e.allocator?.name ?? '–',
        String(e.torch_threads ?? '–'),
        e.scheduler ?? '–',
        dtype,
        model,
      ];
      return `<tr><th scope="row">${esc(r.id)}</th>${cols.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
    });
  if (!rows.length) return '';
  return [
    '<h2>What each rung ran with</h2>',
    '<p class="note">As the worker reported it from inside its process (run.json <code>effective</code>).</p>',
    '<table id="effective"><thead><tr><th scope="col">rung</th><th scope="col">backend</th><th scope="col">allocator mapped</th><th scope="col">torch threads</th><th scope="col">scheduler</th><th scope="col">UNet ran in</th><th scope="col">model</th></tr></thead>',
    `<tbody>\n${rows.join('\n')}\n</tbody></table>`,
  ].join('\n');
}

/** Lines report.md writes as Markdown prose, as HTML paragraphs (the same text). */
const notesHtml = (lines: string[], id: string) => {
  const paras = lines.filter(Boolean).map((l) => `<p class="note">${esc(mdUnescape(l))}</p>`);
  return paras.length ? `<div id="${id}">\n${paras.join('\n')}\n</div>` : '';
};

function skippedHtml(run: RunFile): string {
  const items = run.rungs
    .filter((r) => r.status === 'skipped')
    .map((r) => `<li><strong>${esc(r.id)}</strong>: ${esc(r.skipped ?? 'no reason recorded')}</li>`);
  return items.length
    ? `<h2>Skipped rungs (cannot run on this machine; not failures)</h2>\n<ul id="skipped">\n${items.join('\n')}\n</ul>`
    : '';
}

/** The pictures of run-charts.ts, each inlined in its own figure (id: its file name). */
function picturesHtml(pictures: Partial<Record<RunChartName, string>>): string {
  return RUN_CHARTS.filter((c) => pictures[c.name])
    .map(
      (c) =>
        `<figure class="chart" id="${c.name}">\n${inlineSvg(pictures[c.name]!)}\n<figcaption>${esc(c.caption.replace(/\.$/, ''))} (also in ${c.name}.svg and ${c.name}.png).</figcaption>\n</figure>`,
    )
    .join('\n');
}

function failuresHtml(failed: RungResult[]): string {
  if (!failed.length) return '';
  const items = failed.map(
    (r) =>
      `<li><strong>${esc(r.id)}</strong>: <span class="reason">${esc(r.error ?? 'no reason recorded')}</span></li>`,
  );
  return `<h2>Failed rungs</h2>\n<ul id="failed">\n${items.join('\n')}\n</ul>`;
}

const CSS = `
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; margin: 24px auto; max-width: 1180px; padding: 0 20px; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.5rem; margin: 0 0 .6rem; }
h2 { font-size: 1.15rem; margin: 1.8rem 0 .6rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0 0 1rem; font-size: .92rem; }
dl.meta dt { font-weight: bold; color: #444; }
dl.meta dd { margin: 0; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .86em; background: #f3f3f3; padding: 0 .25em; border-radius: 3px; word-break: break-word; }
code.kv { white-space: nowrap; }
figure.chart { margin: 1rem 0; overflow-x: auto; }
figure.chart svg { max-width: 100%; height: auto; }
figcaption, .note { font-size: .85rem; color: #555; }
table { border-collapse: collapse; font-size: .86rem; margin: .4rem 0; }
th, td { border: 1px solid #d6d6d6; padding: .3rem .55rem; text-align: right; white-space: nowrap; }
thead th { background: #f2f4f7; text-align: center; white-space: normal; vertical-align: bottom; }
tbody th { text-align: left; font-weight: bold; }
tbody tr:nth-child(even) { background: #fafafa; }
tr.status-failed td, tr.status-failed th { color: #b03a2e; background: #fdf1f0; }
tr.status-running td, tr.status-running th { color: #7a5b00; background: #fff8e1; }
#effective td { text-align: left; }
#failed .reason { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .85rem; }
`;

/** The model asked for and, from the first worker that loaded it, what it resolved to. */
function modelLine(run: RunFile, asked: string | undefined): string {
  const got = run.rungs
    .map((r) => (r.effective as { model?: { name?: string; real_weights?: boolean } } | undefined)?.model)
    .find((m) => m?.name);
  if (!got) return esc(asked ?? '?');
  const weights = got.real_weights === false ? 'random weights: timings are real, images are noise' : 'real weights';
  return `${esc(asked ?? '?')}${got.name !== asked ? ` → ${esc(got.name)}` : ''} (${weights})`;
}

/** The page. `svg` is the chart from chartSvg(run); `pictures` those of runChartSvgs(run). */
export function renderHtml(run: RunFile, svg: string, pictures: Partial<Record<RunChartName, string>> = {}): string {
  const m = run.machine;
  const name = run.ladder?.name ?? 'ad hoc';
  const sc = run.rungs[0]?.config as { scenario?: Record<string, unknown>; model?: string } | undefined;
  const isa =
    Object.entries(m.isa ?? {})
      .filter(([, v]) => v)
      .map(([k]) => k)
      .join(' ') || 'none listed';
  const failed = run.rungs.filter((r) => r.status === 'failed');
  const running = run.rungs.filter((r) => r.status === 'running').length;
  const meta: [string, string][] = [
    [
      'Machine',
      `${esc(m.cpu_model)}, ${esc(m.logical_cpus)} logical CPUs, ${(m.memory_bytes / 2 ** 30).toFixed(0)} GiB, ${esc(m.os)}; ISA: ${esc(isa)}`,
    ],
    ['Model', modelLine(run, sc?.model)],
    [
      'Scenario',
      Object.entries(sc?.scenario ?? {})
        .map(([k, v]) => `<code class="kv">${esc(k)}=${esc(JSON.stringify(v))}</code>`)
        .join(' ') || '?',
    ],
    ['Command', `<code>${esc(run.command)}</code>`],
    [
      'Run',
      `started ${esc(run.started)}${run.finished ? `, finished ${esc(run.finished)}` : ' (unfinished)'}; ${run.rungs.length} rungs, ${failed.length} failed${running ? `, ${running} running` : ''}`,
    ],
    [
      'Tool',
      `ladder ${esc(run.tool?.version ?? '?')}${run.tool?.git_revision ? ` (${esc(run.tool.git_revision.slice(0, 12))})` : ''}, run.json schema ${esc(run.schema_version)}${run.ladder ? `; ladder file <code>${esc(run.ladder.file)}</code>` : ''}`,
    ],
  ];
  return `${pageHead(`ladder report: ${esc(name)}`, CSS)}
<body>
<h1>ladder run: ${esc(name)}</h1>
<dl class="meta">
${meta.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('\n')}
</dl>
<figure class="chart" id="chart">
${inlineSvg(svg)}
<figcaption>Median seconds per image on this machine, with whiskers and the speedup vs baseline; the article's published figures on their own scale (also in chart.svg and chart.png).</figcaption>
</figure>
<h2>Rungs</h2>
${tableHtml(run)}
${notesHtml(bestLines(run), 'best')}
<p class="note">The article measured a 32-core Sapphire Rapids at 512x512, 20 steps; its speedups are computed from its published figures. PSNR compares each rung's final image with an fp32 PyTorch image of the same scheduler, seed and initial latents. Raw samples and everything each worker reported are in run.json; one row per rung in results.csv.</p>
${notesHtml(machineLine(run), 'machine-drift')}
${failuresHtml(failed)}
${skippedHtml(run)}
${warningsHtml(run)}
${throughputHtml(run)}
${roundsHtml(run)}
${breakdownHtml(run)}
${notesHtml(overheadLine(run), 'roofline-note')}
${explainHtml(run)}
${picturesHtml(pictures)}
${effectiveHtml(run)}
</body>
</html>
`;
}

// Written as run.json is (write, fsync, rename): a killed run never leaves half a report.
const writeAtomic = writeFileAtomic;

/**
 * Writes REPORT_FILES for `run` into `dir`: report.md, results.csv, report.html, and each picture as
 * SVG and PNG (chart, then RUN_CHARTS). The text reports come first: if a chart cannot be drawn, they and report.html (saying why) are still
 * written, and the error is thrown after.
 */
export async function writeReports(run: RunFile, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeAtomic(path.join(dir, 'report.md'), renderReport(run));
  writeAtomic(path.join(dir, 'results.csv'), renderCsv(run));
  let svg: string;
  let pictures: Record<RunChartName, string>;
  try {
    svg = await chartSvg(run);
    writeAtomic(path.join(dir, 'chart.svg'), svg);
    writeAtomic(path.join(dir, 'chart.png'), await svgToPng(svg));
    pictures = await runChartSvgs(run);
    for (const c of RUN_CHARTS) {
      writeAtomic(path.join(dir, `${c.name}.svg`), pictures[c.name]);
      writeAtomic(path.join(dir, `${c.name}.png`), await svgToPng(pictures[c.name]));
    }
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0] ?? String(err);
    writeAtomic(
      path.join(dir, 'report.html'),
      renderHtml(run, `<p class="note">The chart could not be drawn: ${esc(reason)}</p>`),
    );
    throw new RunError(`chart: ${reason}`, { stage: 'report' });
  }
  writeAtomic(path.join(dir, 'report.html'), renderHtml(run, svg, pictures));
}
