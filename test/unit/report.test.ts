// The reports of a run (results.csv, the chart, report.html) from a hand-made run.json: the
// article's seven rungs on a 2-core machine at full size, one of them failed.

import { compile } from 'vega-lite';
import { describe, expect, test } from 'vitest';
import { chartRows, chartSpec, chartSvg, MARKS, whisker } from '../../src/render/chart.ts';
import { CSV_COLUMNS, csvField, renderCsv } from '../../src/render/csv.ts';
import { renderHtml } from '../../src/render/html.ts';
import { svgToPng } from '../../src/render/vega.ts';
import type { RungResult } from '../../src/results/run-file.ts';
import { fixtureRun } from '../fixtures/run.ts';

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
