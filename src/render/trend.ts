// trend.html: one machine's nightly history on one self-contained page. Same drawing path as chart.ts
// (vega-lite -> vega View, renderer 'none' -> SVG, nothing loaded), one panel per rung: the median
// seconds per image of each night, a whisker (95% CI of the median, else min–max), the judge's
// threshold band (a night's own time outside it counts as a change, when significant), regressed
// nights as red triangles, improved ones as green triangles, unstable ones (the machine itself moved)
// as grey diamonds, and a dashed vertical rule where package versions changed. Below: a table per night.
import type { TopLevelSpec } from 'vega-lite';
import type { RunFile, VersionChange } from '../results/run-file.ts';
import { finite, isPlotted, secs, whisker } from './chart.ts';
import { esc, inlineSvg, pageHead } from './page.ts';
import { FONT, specToSvg, TITLE_STYLE } from './vega.ts';

/**
 * Prefixes of the vega-lite layer names: panel i's layer is `<prefix>_<i>`, and vega names its marks
 * `<prefix>_<i>_marks` (an SVG class too). Names must differ between panels, or vega merges them.
 */
export const TREND_MARKS = {
  whiskers: 'trend_whiskers',
  line: 'trend_line',
  points: 'trend_points',
  regressed: 'trend_regressed',
  improved: 'trend_improved',
  unstable: 'trend_unstable',
  band: 'trend_threshold_band',
  changes: 'trend_version_changes',
  changeLabels: 'trend_version_labels',
} as const;

const BLUE = '#4c78a8';
const RED = '#d62728';
const CHANGE = '#e08214';
const GREEN = '#2ca02c';
const GREY = '#7f7f7f';
const BAND = '#b7d3b0';

type Night = RunFile & { started: string };

/**
 * Per rung, the judge's threshold band of each night (nightly/judge.ts thresholdBands): the reference
 * of the earlier nights divided and multiplied by 1 + the threshold.
 */
export type TrendBands = Record<string, { started: string; lo_s: number; hi_s: number; limit: number }[]>;

/** How each kind of night is drawn: its layer, its shape and colour. */
const KINDS = {
  other: { name: TREND_MARKS.points, mark: { shape: 'circle', size: 55, color: BLUE } },
  regressed: { name: TREND_MARKS.regressed, mark: { shape: 'triangle-up', size: 130, color: RED } },
  improved: { name: TREND_MARKS.improved, mark: { shape: 'triangle-down', size: 130, color: GREEN } },
  unstable: { name: TREND_MARKS.unstable, mark: { shape: 'diamond', size: 110, color: GREY } },
} as const;
type Kind = keyof typeof KINDS;
/** '2026-11-28 02:15 UTC' */
export const nightTime = (iso: string) => `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** A verdict belongs to a rung when its id is the rung's id, or ends with it after a '/' or ':' (scenario-qualified ids). */
const verdictOf = (run: RunFile, rung: string) =>
  run.nightly?.verdicts.find((v) => v.id === rung || v.id.endsWith(`/${rung}`) || v.id.endsWith(`:${rung}`));

/** The night's version changes, one line per package change, with the environments it happened in. */
export function changeLines(changes: VersionChange[] | undefined): string[] {
  const grouped = new Map<string, string[]>();
  for (const c of changes ?? []) {
    const key = `${c.package} ${c.from ?? '(none)'} -> ${c.to ?? '(removed)'}`;
    grouped.set(key, [...(grouped.get(key) ?? []), c.env]);
  }
  return [...grouped].map(([k, envs]) => `${k} (${[...new Set(envs)].join(', ')})`);
}

/** Rung ids in the order they first appear, newest night first (the current ladder's order wins). */
function rungIds(nights: Night[]): string[] {
  const ids: string[] = [];
  for (const n of [...nights].reverse()) for (const r of n.rungs) if (!ids.includes(r.id)) ids.push(r.id);
  return ids;
}

/**
 * The x axis labels' format (d3 time format, applied in UTC): the 24-hour time of day when the axis
 * stays within one UTC day, else the date too.
 */
export function timeAxisFormat(from: number, to: number): string {
  if (!(Number.isFinite(from) && Number.isFinite(to))) return '%Y-%m-%d %H:%M'; // no nights, or no valid time
  const day = (t: number) => new Date(t).toISOString().slice(0, 10);
  return day(from) === day(to) ? '%H:%M' : '%Y-%m-%d %H:%M';
}

/** The vega-lite spec: one panel per rung that has at least one measured night. `nights` sorted by time. */
export function trendSpec(nights: Night[], machineId: string, bands: TrendBands = {}): TopLevelSpec {
  const times = nights.map((n) => Date.parse(n.started));
  const lo = Math.min(...times);
  const hi = Math.max(...times);
  // A little room either side (5 minutes at least, so ticks are whole minutes apart and no two
  // labels read the same); a lone night gets half a day, so its axis still reads as a date.
  const pad = hi > lo ? Math.max((hi - lo) * 0.05, 5 * 60e3) : 12 * 3600e3;
  const domain = [lo - pad, hi + pad];
  const x = {
    field: 't',
    type: 'temporal',
    title: null,
    // UTC throughout (the scale decides how vega-lite formats: utcFormat), on a 24-hour clock.
    scale: { type: 'utc', domain },
    axis: { labelAngle: 0, tickCount: 6, grid: false, format: timeAxisFormat(domain[0]!, domain[1]!) },
  } as const;
  const changes = nights
    .filter((n) => n.nightly?.version_changes?.length)
    .map((n) => {
      const lines = changeLines(n.nightly!.version_changes);
      return {
        t: Date.parse(n.started),
        label: lines.join('; '),
        description: `version change ${nightTime(n.started)}: ${lines.join('; ')}`,
      };
    });

  const panels: Record<string, unknown>[] = [];
  for (const id of rungIds(nights)) {
    const rows = nights.flatMap((n) => {
      const r = n.rungs.find((q) => q.id === id);
      if (!r || !isPlotted(r)) return [];
      const m = r.stats!.median_s;
      const w = whisker(r);
      const v = verdictOf(n, id);
      const kind: Kind = v && v.verdict in KINDS ? (v.verdict as Kind) : 'other';
      const ratio = finite(v?.ratio) && kind !== 'other' ? `, ${v!.ratio.toFixed(2)}x` : '';
      return [
        {
          t: Date.parse(n.started),
          rung: id,
          median_s: m,
          lo_s: w?.lo,
          hi_s: w?.hi,
          kind,
          description: `${id} ${nightTime(n.started)}: median ${secs(m)} s${w ? ` (${w.band} ${secs(w.lo)}–${secs(w.hi)} s)` : ''}${v ? `, ${v.verdict}${ratio}` : ''}`,
        },
      ];
    });
    if (!rows.length) continue;
    const y = {
      type: 'quantitative',
      title: 's / image',
      scale: { zero: false, nice: true, padding: 10 },
      axis: { tickCount: 4, grid: true },
    } as const;
    const layer: Record<string, unknown>[] = [];
    const p = panels.length;
    const band = (bands[id] ?? []).map((b) => ({
      t: Date.parse(b.started),
      lo_s: b.lo_s,
      hi_s: b.hi_s,
      description: `${id} ${nightTime(b.started)}: threshold ±${(100 * b.limit).toFixed(0)}% (${secs(b.lo_s)}–${secs(b.hi_s)} s)`,
    }));
    if (band.length) {
      // Each night's band reaches halfway to its neighbours (step): each is that night's own.
      layer.push({
        name: `${TREND_MARKS.band}_${p}`,
        data: { values: band },
        mark: { type: 'area', color: BAND, opacity: 0.45, interpolate: 'step' },
        encoding: { x, y: { field: 'lo_s', ...y }, y2: { field: 'hi_s' } },
      });
    }
    if (changes.length) {
      layer.push({
        name: `${TREND_MARKS.changes}_${p}`,
        data: { values: changes },
        mark: { type: 'rule', color: CHANGE, strokeDash: [4, 3], strokeWidth: 1.2 },
        encoding: { x, description: { field: 'description' }, tooltip: { field: 'label', title: 'version changes' } },
      });
      if (!panels.length) {
        // labelled once, in the top panel
        layer.push({
          name: `${TREND_MARKS.changeLabels}_${p}`,
          data: { values: changes },
          mark: {
            type: 'text',
            align: 'left',
            baseline: 'top',
            dx: 4,
            dy: 2,
            fontSize: 10.5,
            color: '#a35a00',
            limit: 420,
          },
          encoding: { x, y: { value: 0 }, text: { field: 'label' } },
        });
      }
    }
    const whiskered = rows.filter((r) => r.lo_s !== undefined);
    if (whiskered.length) {
      layer.push({
        name: `${TREND_MARKS.whiskers}_${p}`,
        data: { values: whiskered },
        mark: { type: 'rule', color: '#9ab', strokeWidth: 2 },
        encoding: { x, y: { field: 'lo_s', ...y }, y2: { field: 'hi_s' } },
      });
    }
    layer.push({
      name: `${TREND_MARKS.line}_${p}`,
      data: { values: rows },
      mark: { type: 'line', color: BLUE, strokeWidth: 1.5, opacity: 0.7 },
      encoding: { x, y: { field: 'median_s', ...y } },
    });
    for (const [kind, { name, mark }] of Object.entries(KINDS)) {
      const values = rows.filter((r) => r.kind === kind);
      if (!values.length) continue;
      layer.push({
        name: `${name}_${p}`,
        data: { values },
        mark: { type: 'point', filled: true, opacity: 1, ...mark },
        encoding: {
          x,
          y: { field: 'median_s', ...y },
          description: { field: 'description' },
          tooltip: [{ field: 'description', title: 'night' }],
        },
      });
    }
    panels.push({
      title: { text: id, anchor: 'start', fontSize: 13 },
      width: 640,
      height: 130,
      layer,
    });
  }
  if (!panels.length) {
    panels.push({
      width: 640,
      height: 40,
      data: { values: [{ text: 'no rung was measured on any night' }] },
      mark: { type: 'text', fontSize: 13, color: '#555' },
      encoding: { text: { field: 'text' } },
    });
  }

  return {
    description: `ladder nightly trend on ${machineId}: median seconds per image per rung, one point per night`,
    title: {
      text: `ladder nightly: ${machineId}, seconds per image by night`,
      subtitle: [
        'Points: median per night; whiskers: 95% CI of the median (min–max where a run has none); green band: the',
        "judge's threshold around the earlier nights (outside it and significant: a change). Red triangles: regressed;",
        'green triangles: improved; grey diamonds: unstable (the machine itself moved); dashed orange lines: package versions changed.',
      ],
      ...TITLE_STYLE,
    },
    padding: 0,
    background: 'white',
    vconcat: panels,
    resolve: { scale: { y: 'independent' } },
    spacing: 22,
    config: {
      font: FONT,
      view: { stroke: '#ddd' },
      axis: { labelFontSize: 12, titleFontSize: 12, labelColor: '#222', titleColor: '#222' },
      axisY: { minExtent: 40 }, // the panels' plots line up
    },
  } as unknown as TopLevelSpec;
}

export const trendSvg = (nights: Night[], machineId: string, bands?: TrendBands): Promise<string> =>
  specToSvg(trendSpec(nights, machineId, bands));

const CSS = `
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; margin: 24px auto; max-width: 1180px; padding: 0 20px; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.5rem; margin: 0 0 .6rem; }
h2 { font-size: 1.15rem; margin: 1.8rem 0 .6rem; }
p.meta { font-size: .92rem; color: #333; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .86em; background: #f3f3f3; padding: 0 .25em; border-radius: 3px; }
figure.chart { margin: 1rem 0; overflow-x: auto; }
figure.chart svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: .86rem; margin: .4rem 0; }
th, td { border: 1px solid #d6d6d6; padding: .3rem .55rem; text-align: left; vertical-align: top; }
thead th { background: #f2f4f7; }
tbody tr:nth-child(even) { background: #fafafa; }
tr.regressed td, tr.regressed th { background: #fdf1f0; }
.regression { color: #b03a2e; font-weight: bold; }
.improved { color: #1e7b1e; }
.unstable { color: #666; }
`;

/** The page: title, machine line, the chart (inline SVG from trendSvg), and one table row per night. */
export function renderTrendHtml(nights: Night[], machineId: string, svg: string): string {
  const last = nights[nights.length - 1];
  const m = last?.machine;
  const machine = m
    ? `${esc(m.cpu_model)}, ${esc(m.logical_cpus)} logical CPUs, ${(m.memory_bytes / 2 ** 30).toFixed(0)} GiB, ${esc(m.os)}`
    : 'unknown';
  const span = nights.length
    ? `${nights.length} night${nights.length === 1 ? '' : 's'}, ${esc(nightTime(nights[0]!.started))} to ${esc(nightTime(last!.started))}`
    : 'no nights';
  const rows = [...nights].reverse().map((n) => {
    const counts = new Map<string, number>();
    for (const r of n.rungs) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    const status = [...counts].map(([s, c]) => `${c} ${s}`).join(', ') || 'no rungs';
    const judged = (verdict: string) =>
      (n.nightly?.verdicts ?? [])
        .filter((v) => v.verdict === verdict)
        .map(
          (v) =>
            `${v.id}${finite(v.ratio) ? ` (${v.ratio.toFixed(2)}x${finite(v.p) ? `, p=${v.p.toPrecision(2)}` : ''})` : ''}`,
        );
    const regs = judged('regressed');
    const others = (['improved', 'unstable'] as const).flatMap((k) =>
      judged(k).map((x) => `<span class="${k}">${esc(k)}: ${esc(x)}</span>`),
    );
    const changes = changeLines(n.nightly?.version_changes);
    const rev = n.tool?.git_revision;
    return (
      `<tr${regs.length ? ' class="regressed"' : ''}><th scope="row">${esc(nightTime(n.started))}</th>` +
      `<td>${rev ? `<code title="${esc(rev)}">${esc(rev.slice(0, 12))}</code>` : '–'}</td>` +
      `<td>${esc(status)}</td>` +
      `<td>${regs.length ? `<span class="regression">${regs.map(esc).join('<br>')}</span>` : '–'}</td>` +
      `<td>${others.length ? others.join('<br>') : '–'}</td>` +
      `<td class="changes">${changes.length ? changes.map(esc).join('<br>') : '–'}</td></tr>`
    );
  });
  const inline = inlineSvg(svg);
  return `${pageHead(`ladder nightly trend: ${esc(machineId)}`, CSS)}
<body>
<h1>ladder nightly trend</h1>
<p class="meta" id="machine">Machine <code>${esc(machineId)}</code>: ${machine}. ${span}.</p>
<figure class="chart">
${inline}
</figure>
<h2>Nights</h2>
<table id="nights">
<thead><tr><th scope="col">started</th><th scope="col">git revision</th><th scope="col">rungs</th><th scope="col">regressed</th><th scope="col">improved, unstable</th><th scope="col">version changes</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
</body>
</html>
`;
}
