// The cross-machine page of a fleet: rung x machine (median, speedup over that machine's own
// baseline, the article's figure beside it, the UNet's share of that machine's peak), a chart, and
// each machine's latest nightly verdicts with a link to its trend page. Self-contained HTML,
// Markdown and CSV. Regressions stay judged per machine, against its own nights.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../files.ts';
import { thresholdBands, verdictLine } from '../nightly/judge.ts';
import { ARTICLE_COLOR } from '../render/chart.ts';
import { csvField } from '../render/csv.ts';
import { mdText } from '../render/markdown.ts';
import { esc, inlineSvg, pageHead } from '../render/page.ts';
import { changeLines, renderTrendHtml, trendSvg } from '../render/trend.ts';
import { FONT, specToSvg } from '../render/vega.ts';
import { type RunFile, readHistory } from '../results/run-file.ts';
import { fingerprint, type Gathered, type GatheredRun, twinsLine } from './gather.ts';
import type { Manifest } from './manifest.ts';

export const FLEET_FILES = ['fleet.md', 'fleet.csv', 'fleet.html', 'fleet.svg'] as const;

export interface FleetCell {
  rung: string;
  machine_id: string;
  class?: string;
  status: string;
  median_s?: number;
  speedup?: number;
  article_published_s?: number;
  article_speedup?: number;
  unet_pct_of_peak?: number;
  dtype?: string;
}

/** A column of the page: a class on a machine (the local engine runs every class on one). */
const column = (r: { class?: string; machine_id: string }) => `${r.class ?? ''}\u0000${r.machine_id}`;

/** The latest finished run of each class and machine of the submission. */
export function latestPerMachine(g: Gathered): GatheredRun[] {
  const by = new Map<string, GatheredRun>();
  for (const r of g.runs.filter((x) => x.run.finished)) {
    const k = column(r);
    if (!by.has(k) || Date.parse(r.run.started) > Date.parse(by.get(k)!.run.started)) by.set(k, r);
  }
  return [...by.values()].sort((a, b) => (a.class ?? a.machine_id).localeCompare(b.class ?? b.machine_id));
}

function articleSpeedup(run: RunFile, id: string): number | undefined {
  const fig = run.ladder?.figures ?? {};
  const base = run.ladder ? fig[run.ladder.baseline]?.published_s : undefined;
  const mine = fig[id]?.published_s;
  return base !== undefined && mine !== undefined ? base / mine : undefined;
}

export function fleetCells(machines: GatheredRun[]): FleetCell[] {
  return machines.flatMap(({ run, machine_id, class: cls }) =>
    run.rungs.map((r) => ({
      rung: r.id,
      machine_id,
      class: cls,
      status: r.status,
      median_s: r.stats?.median_s,
      speedup: r.speedup_vs_baseline,
      article_published_s: run.ladder?.figures[r.id]?.published_s,
      article_speedup: articleSpeedup(run, r.id),
      unet_pct_of_peak: r.roofline?.unet_pct_of_peak,
      dtype: r.roofline?.dtype,
    })),
  );
}

const num = (x: number | undefined, d = 2) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
const label = (r: { class?: string; machine_id: string }) => (r.class ? `${r.class} (${r.machine_id})` : r.machine_id);

/** Rungs in the order the first machine ran them, then any others. */
function rungOrder(cells: FleetCell[]): string[] {
  return [...new Set(cells.map((c) => c.rung))];
}

/** The page's rows: per rung, the article's figures and each machine's cell (in `machines` order). */
function fleetRows(cells: FleetCell[], machines: GatheredRun[]) {
  return rungOrder(cells).map((rung) => {
    const any = cells.find((c) => c.rung === rung);
    return {
      rung,
      article_published_s: any?.article_published_s,
      article_speedup: any?.article_speedup !== undefined ? `${num(any.article_speedup)}x` : '–',
      mine: machines.map((r) => cells.find((c) => c.rung === rung && column(c) === column(r))),
    };
  });
}

function cellText(c: FleetCell | undefined): string {
  if (!c) return 'not run';
  if (c.status !== 'ok') return c.status;
  const peak =
    c.unet_pct_of_peak !== undefined
      ? ` · UNet ${c.unet_pct_of_peak.toFixed(c.unet_pct_of_peak < 10 ? 1 : 0)}% of ${c.dtype} peak`
      : '';
  return `${num(c.median_s, 2)} s · ${num(c.speedup, 2)}x${peak}`;
}

export function renderFleetMd(m: Manifest, g: Gathered, machines: GatheredRun[]): string {
  const head = `| rung | article (s) | article speedup | ${machines.map((r) => mdText(label(r))).join(' | ')} |`;
  const rows = fleetRows(fleetCells(machines), machines).map(
    (row) =>
      `| ${mdText(row.rung)} | ${num(row.article_published_s)} | ${row.article_speedup} | ${row.mine.map((c) => mdText(cellText(c))).join(' | ')} |`,
  );
  const machinesList = machines.map(
    (r) =>
      `- ${mdText(label(r))}: ${mdText(fingerprint(r.run))}; node ${mdText(r.run.scheduler?.node ?? '?')}, job ${mdText(r.run.scheduler?.job_id ?? '?')}; run ${mdText(r.dir)}`,
  );
  const verdicts = machines.map((r) => {
    const v = r.run.nightly?.verdicts ?? [];
    const moved = v.filter((x) => x.verdict !== 'unchanged').map((x) => verdictLine(x));
    const changes = changeLines(r.run.nightly?.version_changes);
    return `- ${mdText(label(r))}: ${v.length ? mdText(moved.join('; ') || `${v.length} rungs unchanged`) : 'not a nightly run'}${changes.length ? `; versions changed: ${mdText(changes.join('; '))}` : ''}`;
  });
  return [
    `# ladder fleet: ${mdText(m.fleet.name)} (${mdText(m.id)})`,
    '',
    `Each cell: median seconds per image · speedup over that machine's own baseline (\`${mdText(machines[0]?.run.ladder?.baseline ?? '?')}\`) · the UNet's share of that machine's measured peak for the dtype it ran in. Figures compare within a machine; across machines, compare speedups.`,
    '',
    head,
    `|${'---|'.repeat(3 + machines.length)}`,
    ...rows,
    '',
    "![speedup over each machine's baseline](fleet.svg)",
    '',
    '## Machines',
    '',
    ...machinesList,
    '',
    '## Latest nightly verdicts (each machine judged against its own nights)',
    '',
    ...verdicts,
    ...(g.missing.length
      ? [
          '',
          '## Missing classes',
          '',
          ...g.missing.map(
            (x) => `- ${mdText(x.class)}: job ${mdText(x.state)}${x.error ? `: ${mdText(x.error)}` : ''}`,
          ),
        ]
      : []),
    ...(g.twins.length
      ? ['', '## Warnings', '', ...g.twins.map((t) => `- ${mdText(twinsLine(t))}: one box under two names, or twins`)]
      : []),
    '',
  ].join('\n');
}

export const FLEET_CSV_COLUMNS = [
  'rung',
  'machine_id',
  'class',
  'status',
  'median_s',
  'speedup',
  'article_published_s',
  'article_speedup',
  'unet_pct_of_peak',
  'dtype',
] as const;

export function renderFleetCsv(cells: FleetCell[]): string {
  const lines = [FLEET_CSV_COLUMNS as readonly unknown[], ...cells.map((c) => FLEET_CSV_COLUMNS.map((k) => c[k]))];
  return `${lines.map((l) => l.map(csvField).join(',')).join('\r\n')}\r\n`;
}

export function fleetChartSpec(cells: FleetCell[]): TopLevelSpec {
  const ok = cells.filter((c) => c.status === 'ok' && c.speedup !== undefined);
  const article = [...new Map(cells.filter((c) => c.article_speedup !== undefined).map((c) => [c.rung, c])).values()];
  const rungs = rungOrder(cells);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: "speedup over each machine's own baseline",
    background: 'white',
    config: { font: FONT },
    width: 560,
    layer: [
      {
        name: 'fleet_bars',
        data: { values: ok.map((c) => ({ ...c, machine: label(c) })) },
        mark: { type: 'bar' },
        encoding: {
          y: { field: 'rung', type: 'nominal', sort: rungs, title: null },
          yOffset: { field: 'machine' },
          x: { field: 'speedup', type: 'quantitative', title: 'speedup (x)' },
          color: { field: 'machine', type: 'nominal', title: 'machine' },
          tooltip: [
            { field: 'machine' },
            { field: 'rung' },
            { field: 'speedup', format: '.2f' },
            { field: 'median_s', format: '.2f' },
          ],
        },
      },
      {
        name: 'fleet_article',
        data: { values: article },
        mark: { type: 'point', shape: 'diamond', filled: true, color: ARTICLE_COLOR, size: 70 },
        encoding: {
          y: { field: 'rung', type: 'nominal', sort: rungs },
          x: { field: 'article_speedup', type: 'quantitative' },
          tooltip: [{ field: 'rung' }, { field: 'article_speedup', title: 'article', format: '.2f' }],
        },
      },
    ],
  } as TopLevelSpec;
}

const CSS = `body{font-family:${FONT};margin:2em;max-width:75em;color:#222}table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}thead th{background:#f3f3f3}td.bad{color:#b03a2e;font-weight:bold}.meta{color:#555}`;

export function renderFleetHtml(
  m: Manifest,
  g: Gathered,
  machines: GatheredRun[],
  svg: string,
  outDir: string,
): string {
  const head = `<tr><th scope="col">rung</th><th scope="col">article (s)</th><th scope="col">article speedup</th>${machines
    .map((r) => `<th scope="col" class="machine">${esc(label(r))}</th>`)
    .join('')}</tr>`;
  const rows = fleetRows(fleetCells(machines), machines).map((row) => {
    const tds = row.mine.map((c) => `<td${c && c.status !== 'ok' ? ' class="bad"' : ''}>${esc(cellText(c))}</td>`);
    return `<tr><th scope="row">${esc(row.rung)}</th><td>${esc(num(row.article_published_s))}</td><td>${esc(row.article_speedup)}</td>${tds.join('')}</tr>`;
  });
  const verdicts = machines.map((r) => {
    const trend = path.relative(outDir, path.join(path.dirname(r.dir), 'trend.html'));
    const v = r.run.nightly?.verdicts ?? [];
    const items = v.map(
      (x) =>
        `<li${x.verdict === 'regressed' ? ' class="bad"' : ''}>${esc(verdictLine(x, Infinity))}${x.detail ? ` (${esc(x.detail)})` : ''}</li>`,
    );
    const changes = changeLines(r.run.nightly?.version_changes);
    const link = r.run.nightly ? ` <a href="${esc(trend)}">trend page</a>` : '';
    return `<h3>${esc(label(r))}</h3><p class="meta">${esc(fingerprint(r.run))}; node ${esc(r.run.scheduler?.node ?? '?')}, job ${esc(r.run.scheduler?.job_id ?? '?')}.${link}</p>${items.length ? `<ul>${items.join('')}</ul>` : '<p>not a nightly run</p>'}${changes.length ? `<p>Versions changed: ${changes.map(esc).join('; ')}</p>` : ''}`;
  });
  const warnings = [
    ...g.missing.map((x) => `class ${x.class} has no run: job ${x.state}${x.error ? `: ${x.error}` : ''}`),
    ...g.twins.map(twinsLine),
  ];
  const inline = inlineSvg(svg);
  return `${pageHead(`ladder fleet: ${esc(m.fleet.name)}`, CSS)}
<body>
<h1>ladder fleet: ${esc(m.fleet.name)}</h1>
<p class="meta">Submission ${esc(m.id)}, ${machines.length} machine${machines.length === 1 ? '' : 's'}. Each cell: median seconds per image, speedup over that machine's own baseline, the UNet's share of that machine's peak.</p>
<table id="fleet">
<thead>${head}</thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
<figure class="chart">
${inline}
</figure>
<h2>Latest nightly verdicts</h2>
${verdicts.join('\n')}
${warnings.length ? `<h2>Warnings</h2><ul id="warnings">${warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : ''}
</body>
</html>
`;
}

export async function writeFleetReports(m: Manifest, g: Gathered, outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const machines = latestPerMachine(g);
  const cells = fleetCells(machines);
  writeFileAtomic(path.join(outDir, 'fleet.md'), renderFleetMd(m, g, machines));
  writeFileAtomic(path.join(outDir, 'fleet.csv'), renderFleetCsv(cells));
  const svg = await specToSvg(fleetChartSpec(cells));
  writeFileAtomic(path.join(outDir, 'fleet.svg'), svg);
  writeFileAtomic(path.join(outDir, 'fleet.html'), renderFleetHtml(m, g, machines, svg, outDir));
  // Each nightly machine's trend page, beside its history, so the page's links lead somewhere current.
  for (const dir of new Set(machines.filter((r) => r.run.nightly).map((r) => path.dirname(r.dir)))) {
    const nights = readHistory(dir).runs.map((h) => h.run);
    const id = path.basename(dir);
    writeFileAtomic(
      path.join(dir, 'trend.html'),
      renderTrendHtml(nights, id, await trendSvg(nights, id, thresholdBands(nights))),
    );
  }
}
