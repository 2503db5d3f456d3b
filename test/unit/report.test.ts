// The reports of a run (results.csv, the chart, report.html) from a hand-made run.json: the
// article's seven rungs on a 2-core machine at full size, one of them failed.

import { compile } from 'vega-lite';
import { describe, expect, test } from 'vitest';
import { chartRows, chartSpec, chartSvg, MARKS, whisker } from '../../src/render/chart.ts';
import { CSV_COLUMNS, csvField, renderCsv } from '../../src/render/csv.ts';
import { renderHtml } from '../../src/render/html.ts';
import { mdUnescape } from '../../src/render/markdown.ts';
import { renderReport } from '../../src/render/report.ts';
import {
  componentsSpec,
  passesSpec,
  RUN_MARKS,
  rooflineSpec,
  runChartSvgs,
  unetCallsSpec,
} from '../../src/render/run-charts.ts';
import { svgToPng } from '../../src/render/vega.ts';
import { runPeaks } from '../../src/results/roofline.ts';
import type { RungResult } from '../../src/results/run-file.ts';
import { fixtureRun, reportRun } from '../fixtures/run.ts';

/** Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF), to read back what renderCsv wrote. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** The data values of the layers named `name` in a vega-lite spec (layers may nest in hconcat). */
function layerValues(spec: unknown, name: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== 'object' || node === null) return;
    const n = node as Record<string, unknown>;
    if (n.name === name) out.push(...((n.data as { values?: Record<string, unknown>[] })?.values ?? []));
    Object.values(n).forEach(walk);
  };
  walk(spec);
  return out;
}

describe('results.csv', () => {
  test('quotes fields with commas, quotes, line breaks and edge spaces, and only those', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(' padded')).toBe('" padded"');
    expect(csvField(undefined)).toBe('');
    expect(csvField(Number.NaN)).toBe('');
    expect(csvField(0.1 + 0.2)).toBe('0.30000000000000004'); // full precision
  });

  test('one row per rung with the documented columns; the failed rung keeps its reason intact', () => {
    const run = fixtureRun();
    const text = renderCsv(run);
    expect(text.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(text);
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(1 + 7);
    expect(rows.every((r) => r.length === CSV_COLUMNS.length)).toBe(true);
    const col = (row: string[], c: (typeof CSV_COLUMNS)[number]) => row[CSV_COLUMNS.indexOf(c)];
    const byId = Object.fromEntries(rows.slice(1).map((r) => [r[0]!, r]));
    expect(Number(col(byId.baseline!, 'median_s'))).toBe(run.rungs[0]!.stats!.median_s);
    expect(col(byId.baseline!, 'n')).toBe('10');
    expect(Number(col(byId['openvino-static']!, 'speedup_vs_previous'))).toBeCloseTo(61.7 / 34.85, 10);
    expect(col(byId['openvino-static']!, 'compare_to')).toBe('openvino-dynamic');
    expect(col(byId.dpm!, 'article_published_s')).toBe('5.05');
    expect(col(byId.tcmalloc!, 'article_published_s')).toBe(''); // the article has no tcmalloc figure
    const failed = byId['ipex-bf16']!;
    expect(col(failed, 'status')).toBe('failed');
    expect(col(failed, 'n')).toBe('0');
    expect(col(failed, 'median_s')).toBe('');
    expect(col(failed, 'error')).toBe(run.rungs[5]!.error);
    expect(text).toContain(
      '"rung ipex-bf16: toggle did not take effect: dtype: asked bf16, unet has no bfloat16 weights ({""float32"": 686}); ""channels_last"" not applied"',
    );
  });

  test('PSNR, the median CI, the roofline and the breakdown of each rung', () => {
    const run = fixtureRun();
    // A run of several rounds: the paired speedup's interval.
    const dpm = run.rungs.find((r) => r.id === 'dpm')!;
    dpm.paired = {
      vs_baseline: { ratio: 2.25, ci: [2.19, 2.31], level: 0.95, rounds: 5, per_round: [2.2, 2.25, 2.3, 2.24, 2.27] },
    } as unknown as RungResult['paired'];
    const rows = parseCsv(renderCsv(run));
    const col = (id: string, c: (typeof CSV_COLUMNS)[number]) =>
      rows.find((r) => r[0] === id)![CSV_COLUMNS.indexOf(c)]!;
    const base = run.rungs[0]!;
    expect(Number(col('baseline', 'median_ci_low_s'))).toBe(base.stats!.ci95_median_s[0]);
    expect(Number(col('baseline', 'median_ci_high_s'))).toBe(base.stats!.ci95_median_s[1]);
    expect(col('baseline', 'psnr_db')).toBe('inf'); // the reference image itself
    expect(col('openvino-static', 'psnr_db')).toBe('38.4');
    expect(col('openvino-static', 'psnr_reference')).toBe('fp32-pndm');
    expect(col('jemalloc', 'psnr_db')).toBe('');
    expect(col('dpm', 'speedup_vs_baseline_ci_low')).toBe('2.19');
    expect(col('dpm', 'speedup_vs_baseline_ci_high')).toBe('2.31');
    expect(col('baseline', 'speedup_vs_baseline_ci_low')).toBe('');
    expect(col('dpm', 'dtype')).toBe('bf16');
    expect(Number(col('baseline', 'pct_of_peak'))).toBe(base.roofline!.pct_of_peak);
    expect(Number(col('baseline', 'unet_pct_of_peak'))).toBe(base.roofline!.unet_pct_of_peak);
    for (const k of ['text_encoding_s', 'unet_s', 'vae_decode_s', 'safety_checker_s', 'rest_s'] as const)
      expect(Number(col('baseline', k)), k).toBe(base.breakdown![k]);
    expect(col('dpm', 'unet_calls_per_pass')).toBe('20');
    expect(col('ipex-bf16', 'unet_s')).toBe(''); // failed: nothing measured
  });
});

describe('pictures of a run', () => {
  const run = fixtureRun();
  const ok = run.rungs.filter((r) => r.status === 'ok');

  test('passes: every pass of every ok rung, outliers in their own layer', () => {
    const spec = passesSpec(run);
    const points = layerValues(spec, RUN_MARKS.passes);
    const outliers = layerValues(spec, RUN_MARKS.outliers);
    expect(points.length + outliers.length).toBe(ok.reduce((a, r) => a + r.samples_s.length, 0));
    // JITTER's +5.2% pass is the outlier of each rung.
    expect(outliers.map((o) => o.rung)).toEqual(ok.map((r) => r.id));
    for (const o of outliers) expect(o.pct).toBeCloseTo(5.2, 0);
    expect(layerValues(spec, RUN_MARKS.quartiles)).toHaveLength(ok.length);
    expect(() => compile(spec)).not.toThrow();
  });

  test("UNet calls: each rung's slowest pass call by call; the warm-up call and the straggler marked", () => {
    const spec = unetCallsSpec(run);
    ok.forEach((r, i) => {
      const calls = [
        ...layerValues(spec, `${RUN_MARKS.calls}_${i}`),
        ...layerValues(spec, `${RUN_MARKS.slowCalls}_${i}`),
      ];
      expect(calls, r.id).toHaveLength(r.breakdown!.unet_calls_per_pass!);
      expect(layerValues(spec, `${RUN_MARKS.slowCalls}_${i}`).map((c) => c.call)).toEqual([1, 13]);
      expect(String(layerValues(spec, `${RUN_MARKS.slowCalls}_${i}`)[0]!.description)).toMatch(
        new RegExp(`^${r.id} pass 9, UNet call 1: `),
      );
    });
  });

  test('components: five stacked parts per ok rung, in seconds', () => {
    const values = layerValues(componentsSpec(run), RUN_MARKS.components);
    // Data sits at the spec's top level here: read it there.
    const top = (componentsSpec(run) as { data: { values: Record<string, unknown>[] } }).data.values;
    expect(values).toEqual([]);
    expect(top).toHaveLength(5 * ok.length);
    const base = top.filter((v) => v.rung === 'baseline');
    expect(base.map((v) => v.component)).toEqual(['text encoder', 'UNet', 'VAE decode', 'safety checker', 'rest']);
    expect(base.reduce((a, v) => a + (v.s as number), 0)).toBeCloseTo(ok[0]!.stats!.median_s, 0);
  });

  test("roofline: each rung's UNet rate and the peak of its dtype", () => {
    const rows = (rooflineSpec(run) as { data: { values: Record<string, unknown>[] } }).data.values;
    const peaks = runPeaks(run);
    expect(rows.map((r) => r.rung)).toEqual(ok.map((r) => r.id));
    for (const r of rows) expect(r.peak).toBe(peaks[r.dtype as string]);
    expect(rows.find((r) => r.rung === 'openvino-static')!.share).toBe('85% of bf16 peak');
  });

  test('a run with nothing to draw gets pictures that say so', async () => {
    const bare = fixtureRun();
    bare.roofline = undefined;
    for (const r of bare.rungs) {
      r.components = undefined;
      r.breakdown = undefined;
      r.roofline = undefined;
    }
    const svgs = await runChartSvgs(bare);
    expect(svgs['unet-calls']).toContain('no rung recorded its UNet calls');
    expect(svgs.components).toContain('no rung recorded its components');
    expect(svgs.roofline).toContain('no roofline in this run');
    expect(svgs.passes).toContain(RUN_MARKS.passes); // passes are always there
  });
});

describe('chart', () => {
  test('one bar, whisker and speedup label per ok rung; the failed rung only as a "failed" label', () => {
    const run = fixtureRun();
    const spec = chartSpec(run);
    const ok = run.rungs.filter((r) => r.status === 'ok').map((r) => r.id);
    expect(ok).toHaveLength(6);
    expect(layerValues(spec, MARKS.bars).map((v) => v.rung)).toEqual(ok);
    expect(layerValues(spec, MARKS.whiskers).map((v) => v.rung)).toEqual(ok);
    expect(layerValues(spec, MARKS.speedups).map((v) => v.speedup)).toEqual(
      ok.map((id) => `${run.rungs.find((r) => r.id === id)!.speedup_vs_baseline!.toFixed(1)}x`),
    );
    expect(layerValues(spec, MARKS.speedups).find((v) => v.rung === 'openvino-static')?.speedup).toBe('3.4x');
    expect(layerValues(spec, MARKS.status)).toEqual([expect.objectContaining({ rung: 'ipex-bf16', label: 'failed' })]);
    // The article's figures: one per rung that has one (tcmalloc has none), failed rungs included.
    expect(layerValues(spec, MARKS.article).map((v) => v.rung)).toEqual([
      'baseline',
      'openvino-dynamic',
      'openvino-static',
      'jemalloc',
      'ipex-bf16',
      'dpm',
    ]);
    expect(JSON.stringify(spec)).toContain('32-core Sapphire Rapids');
    // Every rung keeps its row, in ladder order.
    const json = JSON.stringify(spec);
    expect(json).toContain(JSON.stringify(run.rungs.map((r) => r.id)));
    expect(() => compile(spec)).not.toThrow();
  });

  test('whiskers: the 95% CI of the median when the run has it, min..max otherwise', () => {
    const run = fixtureRun();
    const base = run.rungs[0]!;
    expect(whisker(base)).toEqual({
      lo: base.stats!.ci95_median_s[0],
      hi: base.stats!.ci95_median_s[1],
      band: 'ci95 of median',
    });
    const old = {
      ...base,
      stats: { n: 10, median_s: 2, mean_s: 2, stdev_s: 0.1, min_s: 1.5, max_s: 2.5 },
    } as unknown as RungResult;
    expect(whisker(old)).toEqual({ lo: 1.5, hi: 2.5, band: 'min–max' });
  });

  test('a run with no ok rung and no ladder still draws', async () => {
    const run = fixtureRun();
    run.ladder = undefined;
    run.rungs = run.rungs.map((r) => ({
      ...r,
      status: 'failed' as const,
      stats: undefined,
      article: undefined,
      error: 'worker died',
    }));
    run.rungs[6]!.status = 'running';
    expect(chartRows(run).map((r) => r.label)).toEqual([...Array(6).fill('failed'), 'running']);
    const svg = await chartSvg(run);
    expect(svg).toContain('failed');
    expect(svg).not.toContain(MARKS.bars);
  });

  test('SVG and PNG render offline, with one bar mark per ok rung', async () => {
    const svg = await chartSvg(fixtureRun());
    expect(svg.startsWith('<svg')).toBe(true);
    const group = new RegExp(`<g class="[^"]*\\b${MARKS.bars}_marks\\b[^"]*"[^>]*>(.*?)</g>`, 's').exec(svg);
    expect(group).not.toBeNull();
    expect(group![1]!.match(/role="graphics-symbol"/g)).toHaveLength(6);
    expect(svg).toContain('3.4x');
    expect(svg).toContain('failed');
    const png = await svgToPng(svg);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });
});

describe('report.html', () => {
  test('self-contained: no http(s) URL, inline style and SVG, no script or external resource', async () => {
    const run = fixtureRun();
    const html = renderHtml(run, await chartSvg(run));
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<(script|link|img|iframe)\b/i);
    expect(html).toMatch(/<style>[^<]+<\/style>/);
    expect(html).toContain('<svg');
    expect(html).toContain('<title>ladder report: article</title>');
  });

  test('the machine, command, scenario, the rungs table and the failure reason', async () => {
    const run = fixtureRun();
    const html = renderHtml(run, await chartSvg(run));
    expect(html).toContain('Intel(R) Xeon(R) Processor, 2 logical CPUs, 24 GiB');
    expect(html).toContain('ladder reproduce --profile article');
    expect(html).toContain('<code class="kv">steps=20</code>');
    const table = /<table id="rungs">(.*?)<\/table>/s.exec(html)![1]!;
    expect(table.match(/<tr class="status-/g)).toHaveLength(7);
    expect(table).toContain('<tr class="status-failed"><th scope="row">ipex-bf16</th><td><strong>failed</strong></td>');
    expect(html).toContain(
      'unet has no bfloat16 weights ({&quot;float32&quot;: 686}); &quot;channels_last&quot; not applied',
    );
    expect(html).toMatch(/<ul id="warnings">\n<li><strong>baseline<\/strong>: 1 outlying pass of 10 \(#9;/);
  });

  test('carries every line report.md has after its rungs table (best, machine drift, peaks, skipped, failed)', async () => {
    const run = reportRun();
    const md = renderReport(run);
    const html = renderHtml(run, await chartSvg(run));
    const text = (s: string) =>
      s
        .replace(/<\/?(strong|span|code)\b[^>]*>/g, '') // inline: no space
        .replace(/<[^>]+>/g, ' ')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&amp;/g, '&')
        .replace(/\s+/g, ' ');
    const page = text(html);
    // The header lines (machine, model, command) are the page's own list above the chart.
    const lines = md
      .split('\n')
      .slice(md.split('\n').findIndex((l) => l.startsWith('|')))
      .filter((l) => l.trim() && !l.startsWith('|'));
    expect(lines.some((l) => l.startsWith('Best on this machine: openvino-static'))).toBe(true);
    expect(lines.some((l) => l.startsWith('Machine during the run'))).toBe(true);
    expect(lines.some((l) => l.startsWith('Roofline: '))).toBe(true);
    expect(lines).toContain('## Skipped rungs (cannot run on this machine; not failures)');
    expect(lines).toContain('## Where one UNet call goes (--explain)');
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) {
      const plain = mdUnescape(line.replace(/^#+ /, '').replace(/^- /, '').replace(/\*\*/g, ''));
      expect(page, line).toContain(plain.replace(/\s+/g, ' '));
    }
  });

  test('escapes what it shows', async () => {
    const run = fixtureRun();
    run.command = 'ladder run <script>alert(1)</script>';
    run.rungs[5]!.error = 'boom </li><img src=x>';
    const html = renderHtml(run, await chartSvg(run));
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;');
  });
});
