// The pictures of a run beyond the ladder chart (chart.ts), each drawn by the one vega engine and
// written as <name>.svg and <name>.png beside report.html, which inlines them:
//   passes      every timed pass of each rung against its median (the spread, outliers marked);
//   unet-calls  every UNet call of each rung's slowest pass (warm-up and stragglers show);
//   components  where a pass's time goes, stacked (medians per component);
//   roofline    each rung's UNet rate against the measured peak of its dtype.
// A run with nothing to draw for a picture gets a one-line picture saying so (the files always exist).
import type { TopLevelSpec } from 'vega-lite';
import type { PassComponents } from '../results/breakdown.ts';
import { KIND_LABELS, OP_KINDS, runExplains } from '../results/explain.ts';
import { runPeaks } from '../results/roofline.ts';
import type { RunFile, RungResult } from '../results/run-file.ts';
import { median, quantile } from '../results/stats.ts';
import { BAR_COLOR, finite, isPlotted, secs } from './chart.ts';
import { FONT, specToSvg, TITLE_STYLE } from './vega.ts';

/** Names of the vega-lite layers; vega names their marks `<name>_marks` (an SVG class too). */
export const RUN_MARKS = {
  passes: 'pass_points',
  outliers: 'pass_outliers',
  quartiles: 'pass_quartiles',
  calls: 'unet_call_points', // + `_<panel>`: names must differ between panels
  callLine: 'unet_call_line',
  slowCalls: 'unet_slow_calls',
  components: 'component_bars',
  rates: 'roofline_unet_rates',
  peaks: 'roofline_peaks',
  shares: 'roofline_shares',
  explain: 'explain_kind_bars',
} as const;

const RED = '#d62728';
/** A UNet call this much slower than its rung's median call is marked: warm-up or a straggler. */
export const SLOW_CALL = 1.1;

const CONFIG = {
  font: FONT,
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 12, titleFontSize: 12.5, labelColor: '#222', titleColor: '#222' },
  axisY: { labelLimit: 200, labelPadding: 6 },
  legend: { labelFontSize: 12, titleFontSize: 12, orient: 'bottom', direction: 'horizontal' },
} as const;

function frame(
  title: string,
  subtitle: string[],
  body: Record<string, unknown>,
  config: Record<string, unknown> = {},
): TopLevelSpec {
  return {
    description: `${title}. ${subtitle.join(' ')}`,
    title: { text: title, subtitle, ...TITLE_STYLE },
    padding: 0,
    background: 'white',
    ...body,
    config: { ...CONFIG, ...config },
  } as unknown as TopLevelSpec;
}

const nothing = (title: string, why: string) =>
  frame(title, [], {
    width: 520,
    height: 40,
    data: { values: [{ text: why }] },
    mark: { type: 'text', fontSize: 13, color: '#555' },
    encoding: { text: { field: 'text' } },
  });

const measured = (run: RunFile) => run.rungs.filter((r) => isPlotted(r) && r.samples_s.length > 0);
const rungAxis = (ids: string[]) => ({ field: 'rung', type: 'nominal', sort: ids, title: null }) as const;
const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;

/** Every pass of each rung as its distance from the rung's median; the quartiles as a box; outliers red. */
export function passesSpec(run: RunFile): TopLevelSpec {
  const title = 'Every timed pass, by rung';
  const rungs = measured(run);
  if (!rungs.length) return nothing(title, 'no rung has timed passes');
  const ids = rungs.map((r) => r.id);
  const points = rungs.flatMap((r) => {
    const m = r.stats!.median_s;
    const out = new Set(r.stats!.outliers ?? []);
    return r.samples_s.map((s, i) => ({
      rung: r.id,
      pct: 100 * (s / m - 1),
      outlier: out.has(i),
      description: `${r.id} pass ${i + 1}: ${secs(s)} s (${pct(100 * (s / m - 1))} vs median ${secs(m)} s)${out.has(i) ? ', outlier' : ''}`,
    }));
  });
  const boxes = rungs.map((r) => {
    const sorted = [...r.samples_s].sort((a, b) => a - b);
    const m = r.stats!.median_s;
    return { rung: r.id, q1: 100 * (quantile(sorted, 0.25) / m - 1), q3: 100 * (quantile(sorted, 0.75) / m - 1) };
  });
  const y = rungAxis(ids);
  const x = {
    field: 'pct',
    type: 'quantitative',
    title: "pass time vs its rung's median (%)",
    axis: { grid: true, tickCount: 8 },
  } as const;
  const layer: Record<string, unknown>[] = [
    {
      name: RUN_MARKS.quartiles,
      data: { values: boxes },
      mark: { type: 'bar', color: '#c9d7e8', height: { band: 0.55 } },
      encoding: { y, x: { ...x, field: 'q1' }, x2: { field: 'q3' } },
    },
    {
      data: { values: [{ pct: 0 }] },
      mark: { type: 'rule', color: '#222', strokeWidth: 1 },
      encoding: { x },
    },
  ];
  for (const [name, outlier] of [
    [RUN_MARKS.passes, false],
    [RUN_MARKS.outliers, true],
  ] as const) {
    const values = points.filter((p) => p.outlier === outlier);
    if (!values.length) continue;
    layer.push({
      name,
      data: { values },
      mark: outlier
        ? { type: 'point', shape: 'triangle-up', filled: true, size: 110, color: RED, opacity: 1 }
        : {
            type: 'point',
            shape: 'circle',
            filled: false,
            size: 50,
            color: BAR_COLOR,
            opacity: 0.85,
            strokeWidth: 1.5,
          },
      encoding: { y, x, description: { field: 'description' }, tooltip: [{ field: 'description', title: 'pass' }] },
    });
  }
  const medians = rungs.map((r) => `${r.id} ${secs(r.stats!.median_s)} s`).join(', ');
  return frame(
    title,
    [
      "Each circle is one timed pass; the shaded box spans the middle half (quartiles); 0 is the rung's median:",
      `${medians}.`,
      'Red triangles: outlying passes (modified z-score above 3.5), flagged, never dropped.',
    ],
    { width: 620, height: { step: 30 }, layer },
  );
}

/** The slowest pass of a rung that recorded its UNet calls, with the rung's median call over all passes. */
function slowestPass(r: RungResult): { pass: number; calls: number[]; medianCall: number } | undefined {
  const passes = (r.components ?? []) as Partial<PassComponents>[];
  if (!passes.length || !passes.every((p) => Array.isArray(p.unet_steps_s) && p.unet_steps_s.length)) return undefined;
  let pass = 0;
  for (let i = 1; i < Math.min(passes.length, r.samples_s.length); i++)
    if (r.samples_s[i]! > r.samples_s[pass]!) pass = i;
  return { pass, calls: passes[pass]!.unet_steps_s!, medianCall: median(passes.flatMap((p) => p.unet_steps_s!)) };
}

/** One panel per rung: each UNet call of its slowest pass in order, calls well above the median call marked. */
export function unetCallsSpec(run: RunFile): TopLevelSpec {
  const title = 'Every UNet call of one pass, by rung';
  const panels: Record<string, unknown>[] = [];
  for (const r of measured(run)) {
    const p = slowestPass(r);
    if (!p) continue;
    const i = panels.length;
    const rows = p.calls.map((s, k) => ({
      call: k + 1,
      s,
      slow: s > SLOW_CALL * p.medianCall,
      description: `${r.id} pass ${p.pass + 1}, UNet call ${k + 1}: ${secs(s)} s (${pct(100 * (s / p.medianCall - 1))} vs the median call)`,
    }));
    const x = {
      field: 'call',
      type: 'quantitative',
      scale: { domain: [0.5, p.calls.length + 0.5], nice: false },
      axis: { tickMinStep: 1, format: 'd', title: 'UNet call in the pass (1 = first)' },
    } as const;
    const y = {
      field: 's',
      type: 'quantitative',
      title: 's / call',
      scale: { zero: false, nice: true, padding: 6 },
      axis: { tickCount: 3, grid: true },
    } as const;
    const layer: Record<string, unknown>[] = [
      {
        data: { values: [{ s: p.medianCall }] },
        mark: { type: 'rule', color: '#888', strokeDash: [4, 3] },
        encoding: { y },
      },
      {
        name: `${RUN_MARKS.callLine}_${i}`,
        data: { values: rows },
        mark: { type: 'line', color: BAR_COLOR },
        encoding: { x, y },
      },
    ];
    for (const [name, slow] of [
      [RUN_MARKS.calls, false],
      [RUN_MARKS.slowCalls, true],
    ] as const) {
      const values = rows.filter((row) => row.slow === slow);
      if (!values.length) continue;
      layer.push({
        name: `${name}_${i}`,
        data: { values },
        mark: slow
          ? { type: 'point', shape: 'triangle-up', filled: true, size: 90, color: RED, opacity: 1 }
          : { type: 'point', shape: 'circle', filled: true, size: 28, color: BAR_COLOR, opacity: 1 },
        encoding: { x, y, description: { field: 'description' }, tooltip: [{ field: 'description', title: 'call' }] },
      });
    }
    panels.push({
      title: {
        text: `${r.id}: pass ${p.pass + 1} of ${r.samples_s.length} (${secs(r.samples_s[p.pass]!)} s), median call ${secs(p.medianCall)} s`,
        anchor: 'start',
        fontSize: 12.5,
      },
      width: 620,
      height: 70,
      layer,
    });
  }
  if (!panels.length) return nothing(title, 'no rung recorded its UNet calls');
  return frame(
    title,
    [
      "Each rung's slowest timed pass, call by call; dashed: the rung's median call over all its passes.",
      `Red triangles: calls more than ${Math.round(100 * (SLOW_CALL - 1))}% above it (the first call's warm-up, stragglers).`,
    ],
    {
      vconcat: panels,
      spacing: 16,
      resolve: { scale: { y: 'independent' } },
    },
    { axisY: { ...CONFIG.axisY, minExtent: 44 } }, // the panels' plots line up
  );
}

export const COMPONENTS = [
  ['text_encoding_s', 'text encoder'],
  ['unet_s', 'UNet'],
  ['vae_decode_s', 'VAE decode'],
  ['safety_checker_s', 'safety checker'],
  ['rest_s', 'rest'],
] as const;
const COMPONENT_COLORS = ['#72b7b2', '#4c78a8', '#f58518', '#b279a2', '#9d9d9d'];

/** A stacked bar per rung: the median seconds of each component of a pass. */
export function componentsSpec(run: RunFile): TopLevelSpec {
  const title = 'Where the time of a pass goes, by rung';
  const rungs = run.rungs.filter((r) => r.status === 'ok' && r.breakdown);
  if (!rungs.length) return nothing(title, 'no rung recorded its components');
  const ids = rungs.map((r) => r.id);
  const names = COMPONENTS.map(([, n]) => n);
  const values = rungs.flatMap((r) =>
    COMPONENTS.flatMap(([k, name], order) => {
      const s = r.breakdown![k];
      return finite(s)
        ? [{ rung: r.id, component: name, order, s, description: `${r.id}, ${name}: ${secs(s)} s (median per pass)` }]
        : [];
    }),
  );
  return frame(
    title,
    ['Median seconds of each component per pass (medians of each part: they add up to about the median pass).'],
    {
      width: 620,
      height: { step: 30 },
      data: { values },
      layer: [
        {
          name: RUN_MARKS.components,
          mark: { type: 'bar', height: { band: 0.62 } },
          encoding: {
            y: rungAxis(ids),
            x: {
              field: 's',
              type: 'quantitative',
              stack: 'zero',
              title: 'seconds per image (median)',
              axis: { grid: true },
            },
            color: {
              field: 'component',
              type: 'nominal',
              title: null,
              scale: { domain: names, range: COMPONENT_COLORS },
              sort: names,
            },
            order: { field: 'order' },
            description: { field: 'description' },
            tooltip: [{ field: 'description', title: 'component' }],
          },
        },
      ],
    },
  );
}

/** A bar per rung: its UNet GFLOP/s, a black tick at the peak of its dtype, the share as a label. */
export function rooflineSpec(run: RunFile): TopLevelSpec {
  const title = 'UNet rate against the peak of its dtype, by rung';
  const peaks = runPeaks(run);
  const rows = run.rungs.flatMap((r) => {
    const x = r.roofline;
    const peak = x ? peaks[x.dtype] : undefined;
    if (r.status !== 'ok' || !x || !finite(x.unet_gflops) || !finite(peak)) return [];
    const share = finite(x.unet_pct_of_peak) ? `${x.unet_pct_of_peak.toFixed(0)}% of ${x.dtype} peak` : 'above peak!';
    return [
      {
        rung: r.id,
        dtype: x.dtype,
        gflops: x.unet_gflops,
        peak,
        share,
        at: Math.max(x.unet_gflops, peak),
        description: `${r.id}: UNet ${x.unet_gflops.toFixed(0)} GFLOP/s in ${x.dtype}, ${share} (${peak.toFixed(0)} GFLOP/s)`,
      },
    ];
  });
  if (!rows.length) return nothing(title, 'no roofline in this run (no FLOP count or peak probe)');
  const ids = rows.map((r) => r.rung);
  const y = rungAxis(ids);
  const max = Math.max(...rows.map((r) => r.at));
  const x = {
    type: 'quantitative',
    title: 'GFLOP/s of the UNet (work per call / median call time)',
    scale: { zero: true, domainMax: max * 1.32 },
    axis: { grid: true },
  } as const;
  const peakList = Object.entries(peaks)
    .map(([d, g]) => `${d} ${g.toFixed(0)}`)
    .join(', ');
  return frame(
    title,
    [
      `Bars: each rung's UNet rate, coloured by the dtype it ran in; black ticks: the measured matrix-product peak of that dtype (GFLOP/s: ${peakList}).`,
    ],
    {
      width: 620,
      height: { step: 30 },
      data: { values: rows },
      layer: [
        {
          name: RUN_MARKS.rates,
          mark: { type: 'bar', height: { band: 0.6 } },
          encoding: {
            y,
            x: { field: 'gflops', ...x },
            color: { field: 'dtype', type: 'nominal', title: 'dtype', scale: { scheme: 'tableau10' } },
            description: { field: 'description' },
            tooltip: [{ field: 'description', title: 'rung' }],
          },
        },
        {
          name: RUN_MARKS.peaks,
          mark: { type: 'tick', color: '#111', thickness: 3, bandSize: 24 },
          encoding: { y, x: { field: 'peak', ...x } },
        },
        {
          name: RUN_MARKS.shares,
          mark: { type: 'text', align: 'left', baseline: 'middle', dx: 8, fontSize: 12, color: '#222' },
          encoding: { y, x: { field: 'at', ...x }, text: { field: 'share' } },
        },
      ],
    },
  );
}

const KIND_COLORS = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#b279a2', '#9d9d9d', '#d8d8d8'];

/** A stacked bar per rung run with --explain: the share of its profiled UNet call each op kind took. */
export function explainSpec(run: RunFile): TopLevelSpec {
  const title = 'Where one UNet call goes, by op kind';
  const summaries = runExplains(run);
  if (!summaries.size) return nothing(title, 'no rung of this run was profiled (--explain)');
  const names = [...OP_KINDS.map((k) => KIND_LABELS[k]), 'left over'];
  const values = [...summaries.entries()].flatMap(([rung, s]) => [
    ...s.groups.map((g, order) => ({
      rung,
      kind: KIND_LABELS[g.kind],
      order,
      pct: g.share_pct,
      description: `${rung}, ${KIND_LABELS[g.kind]}: ${g.share_pct.toFixed(1)}% of the call (${(g.time_s * 1e3).toFixed(2)} ms)${g.pct_of_peak !== undefined ? `, ${g.pct_of_peak.toFixed(0)}% of the ${g.dtype} peak` : ''}`,
    })),
    {
      rung,
      kind: 'left over',
      order: s.groups.length,
      pct: Math.max(0, s.leftover_pct),
      description: `${rung}: ${s.leftover_pct.toFixed(1)}% of the call in no op the profiler saw`,
    },
  ]);
  return frame(
    title,
    ["Share of one profiled UNet call (the runtime's own profiler) each op kind took; grey: time in no op it saw."],
    {
      width: 620,
      height: { step: 30 },
      data: { values },
      layer: [
        {
          name: RUN_MARKS.explain,
          mark: { type: 'bar', height: { band: 0.62 } },
          encoding: {
            y: rungAxis([...summaries.keys()]),
            x: { field: 'pct', type: 'quantitative', stack: 'zero', title: '% of the UNet call', axis: { grid: true } },
            color: {
              field: 'kind',
              type: 'nominal',
              title: null,
              scale: { domain: names, range: KIND_COLORS },
              sort: names,
              legend: { labelLimit: 240, columns: 4 },
            },
            order: { field: 'order' },
            description: { field: 'description' },
            tooltip: [{ field: 'description', title: 'op kind' }],
          },
        },
      ],
    },
  );
}

/** The pictures of report.html besides chart.svg: file stem, figure id, caption, spec. */
export const RUN_CHARTS = [
  {
    name: 'passes',
    caption: "Every timed pass of each rung against the rung's median: the spread behind each figure, outliers marked.",
    spec: passesSpec,
  },
  {
    name: 'unet-calls',
    caption: "Every UNet call of each rung's slowest pass: warm-up and stragglers show as red triangles.",
    spec: unetCallsSpec,
  },
  {
    name: 'components',
    caption: 'Where the time goes: the median seconds of each component of a pass.',
    spec: componentsSpec,
  },
  {
    name: 'roofline',
    caption: "Each rung's UNet rate against the measured peak of the dtype it ran in.",
    spec: rooflineSpec,
  },
  {
    name: 'explain',
    caption: 'Where one profiled UNet call of each rung run with --explain goes, by op kind.',
    spec: explainSpec,
  },
] as const;

export type RunChartName = (typeof RUN_CHARTS)[number]['name'];

/** Each picture of RUN_CHARTS as a standalone SVG document. */
export async function runChartSvgs(run: RunFile): Promise<Record<RunChartName, string>> {
  const out: Partial<Record<RunChartName, string>> = {};
  for (const c of RUN_CHARTS) out[c.name] = await specToSvg(c.spec(run));
  return out as Record<RunChartName, string>;
}
