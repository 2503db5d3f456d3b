// The ladder as a chart, drawn without a browser or the network: a vega-lite spec compiled to vega,
// rendered to SVG by a headless vega View (renderer 'none'), and to PNG by resvg.
//
// Left panel: each ok rung's median seconds per image on this machine, whiskers for the 95% CI of
// the median (min–max when the run has no CI), the speedup vs baseline as a label. Failed rungs get
// a 'failed' label and no bar. Right panel: the article's published figure per rung, on its own
// scale, since the article's 32-core Sapphire Rapids is far faster than the machines ladder runs on.
import type { TopLevelSpec } from 'vega-lite';
import type { RunFile, RungResult } from '../results/run-file.ts';
import { FONT, specToSvg, TITLE_STYLE } from './vega.ts';

/** Names of the vega-lite layers; vega names their marks `<name>_marks` (an SVG class too). */
export const MARKS = {
  bars: 'latency_bars',
  whiskers: 'latency_whiskers',
  speedups: 'speedup_labels',
  status: 'status_labels',
  article: 'article_points',
  articleLabels: 'article_labels',
} as const;

export const BAR_COLOR = '#4c78a8';
export const ARTICLE_COLOR = '#e45756';
export const FAILED_COLOR = '#b03a2e';
export const RUNNING_COLOR = '#8a6d00';
export interface ChartRow {
  rung: string;
  status: RungResult['status'];
  median_s?: number;
  /** Whisker: the 95% CI of the median when the run has it, else min..max. */
  lo_s?: number;
  hi_s?: number;
  band?: 'ci95 of median' | 'min–max';
  speedup?: string;
  published_s?: number;
  label?: string;
  description?: string;
}

export const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
export const secs = (x: number) =>
  x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3);

/**
 * The whisker of a rung: stats.ci95_median_s [lo, hi] when present and sane, else min_s..max_s.
 * Below 6 passes that interval is min..max with less than 95% coverage (ci95_level): named so.
 */
export function whisker(r: RungResult): { lo: number; hi: number; band: 'ci95 of median' | 'min–max' } | undefined {
  // Older run.json files (schema 1 before the CI was added) have no ci95 fields.
  const s = r.stats as (Partial<NonNullable<RungResult['stats']>> & { ci95_median_s?: unknown }) | undefined;
  if (!s) return undefined;
  const ci = s.ci95_median_s;
  if (Array.isArray(ci) && ci.length === 2 && finite(ci[0]) && finite(ci[1]) && ci[0] <= ci[1]) {
    const full = !finite(s.ci95_level) || s.ci95_level >= 0.95;
    return { lo: ci[0], hi: ci[1], band: full ? 'ci95 of median' : 'min–max' };
  }
  if (finite(s.min_s) && finite(s.max_s)) return { lo: s.min_s, hi: s.max_s, band: 'min–max' };
  return undefined;
}

/** A rung with a figure to draw: ok, with a finite median. */
export const isPlotted = (r: RungResult) => r.status === 'ok' && finite(r.stats?.median_s);

export function chartRows(run: RunFile): ChartRow[] {
  return run.rungs.map((r) => {
    const row: ChartRow = { rung: r.id, status: r.status };
    const published = run.ladder?.figures[r.id]?.published_s ?? r.article?.published_s;
    if (finite(published)) row.published_s = published;
    if (isPlotted(r)) {
      const m = r.stats!.median_s;
      const w = whisker(r);
      row.median_s = m;
      if (w) Object.assign(row, { lo_s: w.lo, hi_s: w.hi, band: w.band });
      if (finite(r.speedup_vs_baseline)) row.speedup = `${r.speedup_vs_baseline.toFixed(1)}x`;
      row.description = `${r.id}: median ${secs(m)} s${w ? ` (${w.band} ${secs(w.lo)}–${secs(w.hi)} s)` : ''}${row.speedup ? `, ${row.speedup} vs baseline` : ''}`;
    } else {
      row.label = r.status === 'ok' ? 'no samples' : r.status; // 'failed', or 'running' in an unfinished run
    }
    return row;
  });
}

/** The vega-lite spec of a run's chart. Data is inline: nothing is ever loaded. */
export function chartSpec(run: RunFile): TopLevelSpec {
  const rows = chartRows(run);
  const ids = rows.map((r) => r.rung);
  const ok = rows.filter((r) => r.median_s !== undefined);
  const notOk = rows.filter((r) => r.median_s === undefined);
  const figures = rows.filter((r) => r.published_s !== undefined);
  const m = run.machine;
  const bands = new Set(ok.map((r) => r.band).filter(Boolean));
  const whiskerWords =
    bands.size === 0
      ? ''
      : bands.size === 1
        ? `whiskers: ${[...bands][0] === 'min–max' ? 'min–max of the passes' : '95% CI of the median'}`
        : 'whiskers: 95% CI of the median, or min–max where the run has no CI';

  const y = { field: 'rung', type: 'nominal', sort: null, scale: { domain: ids }, title: null } as const;
  const maxX = Math.max(0, ...ok.map((r) => Math.max(r.hi_s ?? 0, r.median_s ?? 0)));
  // Room right of the longest whisker for its speedup label.
  const x = {
    type: 'quantitative',
    title: 'median seconds per image, this machine',
    scale: { zero: true, ...(maxX > 0 ? { domainMax: maxX * 1.16 } : { domain: [0, 1] }) },
    axis: { grid: true, tickCount: 6 },
  } as const;

  const mine: Record<string, unknown>[] = [];
  if (ok.length) {
    mine.push({
      name: MARKS.bars,
      data: { values: ok },
      mark: { type: 'bar', color: BAR_COLOR, height: { band: 0.62 } },
      encoding: {
        y,
        x: { field: 'median_s', ...x },
        description: { field: 'description' },
        tooltip: [
          { field: 'rung' },
          { field: 'median_s', title: 'median (s)', format: '.3f' },
          { field: 'speedup', title: 'vs baseline' },
        ],
      },
    });
    const withWhisker = ok.filter((r) => r.lo_s !== undefined);
    if (withWhisker.length) {
      mine.push({
        name: MARKS.whiskers,
        data: { values: withWhisker },
        mark: { type: 'errorbar', ticks: { color: '#222', size: 10 }, rule: { color: '#222', strokeWidth: 1.5 } },
        encoding: { y, x: { field: 'lo_s', ...x }, x2: { field: 'hi_s' } },
      });
    }
    const labelled = ok
      .filter((r) => r.speedup !== undefined)
      .map((r) => ({ ...r, at: Math.max(r.hi_s ?? 0, r.median_s ?? 0) }));
    if (labelled.length) {
      mine.push({
        name: MARKS.speedups,
        data: { values: labelled },
        mark: {
          type: 'text',
          align: 'left',
          baseline: 'middle',
          dx: 7,
          fontSize: 12,
          fontWeight: 'bold',
          color: '#222',
        },
        encoding: { y, x: { field: 'at', ...x }, text: { field: 'speedup' } },
      });
    }
  }
  if (notOk.length) {
    mine.push({
      name: MARKS.status,
      data: { values: notOk },
      mark: {
        type: 'text',
        align: 'left',
        baseline: 'middle',
        dx: 4,
        fontSize: 12,
        fontWeight: 'bold',
        fontStyle: 'italic',
      },
      encoding: {
        y,
        x: { datum: 0, ...x },
        text: { field: 'label' },
        color: {
          field: 'label',
          type: 'nominal',
          scale: {
            domain: ['failed', 'running', 'skipped', 'no samples'],
            range: [FAILED_COLOR, RUNNING_COLOR, '#555', '#555'],
          },
          legend: null,
        },
      },
    });
  }

  if (!mine.length) {
    // a run.json saved before its first rung
    mine.push({
      data: { values: [{ text: 'no rungs measured yet' }] },
      mark: { type: 'text', fontSize: 13, color: '#555' },
      encoding: { text: { field: 'text' } },
    });
  }

  const step = 32;
  const panels: Record<string, unknown>[] = [
    {
      title: { text: 'This machine', anchor: 'start', fontSize: 13 },
      width: 520,
      height: ids.length ? { step } : 60,
      layer: mine,
    },
  ];
  if (figures.length) {
    const maxA = Math.max(...figures.map((r) => r.published_s!));
    const ax = {
      field: 'published_s',
      type: 'quantitative',
      title: 'article, published s/image',
      scale: { zero: true, domainMax: maxA * 1.35 },
      axis: { grid: true, tickCount: 4, titleColor: ARTICLE_COLOR },
    } as const;
    panels.push({
      title: { text: "Article's figures (own scale)", anchor: 'start', fontSize: 13, color: ARTICLE_COLOR },
      width: 220,
      height: { step },
      layer: [
        {
          name: MARKS.article,
          data: { values: figures },
          mark: { type: 'point', shape: 'diamond', filled: true, size: 110, color: ARTICLE_COLOR, opacity: 1 },
          encoding: {
            y: { ...y, axis: { labels: false, ticks: false, domain: false } },
            x: ax,
            description: { value: 'article published figure' },
          },
        },
        {
          name: MARKS.articleLabels,
          data: { values: figures.map((r) => ({ ...r, text: `${r.published_s} s` })) }, // as the article wrote it
          mark: { type: 'text', align: 'left', baseline: 'middle', dx: 9, fontSize: 11, color: ARTICLE_COLOR },
          encoding: {
            y: { ...y, axis: { labels: false, ticks: false, domain: false } },
            x: ax,
            text: { field: 'text' },
          },
        },
      ],
    });
  }

  const cpu = `${m.cpu_model}, ${m.logical_cpus} logical CPUs`;
  return {
    description: `ladder run ${run.ladder?.name ?? 'ad hoc'}: median seconds per image per rung on ${cpu}, with the article's published figures`,
    title: {
      text: `ladder: ${run.ladder?.name ?? 'ad hoc'}, seconds per image by rung`,
      subtitle: [
        `Bars: median on this machine (${cpu})${whiskerWords ? `; ${whiskerWords}` : ''}; labels: speedup vs baseline.`,
        ...(figures.length
          ? [
              "Diamonds: the article's published figures, on their own scale: they are from a 32-core Sapphire Rapids (64 vCPU, AMX).",
            ]
          : []),
      ],
      ...TITLE_STYLE,
    },
    padding: 0,
    background: 'white',
    hconcat: panels,
    spacing: 28,
    config: {
      font: FONT,
      view: { stroke: '#ddd' },
      axis: { labelFontSize: 13, titleFontSize: 13, labelColor: '#222', titleColor: '#222' },
      axisY: { labelLimit: 180, labelPadding: 6 },
    },
  } as unknown as TopLevelSpec;
}

/** The chart as a standalone SVG document. */
export const chartSvg = (run: RunFile): Promise<string> => specToSvg(chartSpec(run));
