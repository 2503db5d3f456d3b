// results.csv: one row per rung, numbers at full precision, quoted as RFC 4180 says.

import type { RunFile, RungResult } from '../results/run-file.ts';
import { isPlainNumber } from './markdown.ts';

/**
 * A field as RFC 4180 wants it: quoted (quotes doubled) when it holds a comma, quote, line break or edge
 * space. Text a spreadsheet would run as a formula (starting with =, +, -, @, tab or carriage return)
 * gets a leading ' first, as OWASP advises against CSV injection; plain numbers (-0.5) stay numbers.
 */
export function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number' && !Number.isFinite(value)) return '';
  const raw = String(value);
  const s = /^[=+\-@\t\r]/.test(raw) && !isPlainNumber(raw) ? `'${raw}` : raw;
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

type Cell = (r: RungResult, run: RunFile) => unknown;
const fig = (run: RunFile, r: RungResult) => run.ladder?.figures[r.id] ?? r.article;
const ci = (r: RungResult) => r.stats?.ci95_median_s as [number, number] | undefined;
const paired = (r: RungResult) => r.paired?.vs_baseline;
const part = (k: string) => (r: RungResult) => r.breakdown?.[k];

/**
 * The columns and how each is read from a rung: the figures, the 95% CI of the median, the paired
 * speedup's interval (runs of several rounds), PSNR against the fp32 reference (`inf`: identical
 * image), the roofline, and the median seconds of each component of a pass. `error` stays last.
 */
const COLUMNS = {
  id: (r) => r.id,
  status: (r) => r.status,
  n: (r) => r.stats?.n ?? r.samples_s.length,
  median_s: (r) => r.stats?.median_s,
  mean_s: (r) => r.stats?.mean_s,
  stdev_s: (r) => r.stats?.stdev_s,
  min_s: (r) => r.stats?.min_s,
  max_s: (r) => r.stats?.max_s,
  median_ci_low_s: (r) => ci(r)?.[0],
  median_ci_high_s: (r) => ci(r)?.[1],
  speedup_vs_baseline: (r) => r.speedup_vs_baseline,
  speedup_vs_baseline_ci_low: (r) => paired(r)?.ci[0],
  speedup_vs_baseline_ci_high: (r) => paired(r)?.ci[1],
  speedup_vs_previous: (r) => r.speedup_vs_previous,
  compare_to: (r) => r.compare_to,
  psnr_db: (r) => (r.quality ? (r.quality.psnr_db ?? 'inf') : undefined),
  psnr_reference: (r) => r.quality?.reference,
  dtype: (r) => r.roofline?.dtype,
  gflops: (r) => r.roofline?.gflops,
  pct_of_peak: (r) => r.roofline?.pct_of_peak,
  unet_gflops: (r) => r.roofline?.unet_gflops,
  unet_pct_of_peak: (r) => r.roofline?.unet_pct_of_peak,
  text_encoding_s: part('text_encoding_s'),
  unet_s: part('unet_s'),
  unet_step_s: part('unet_step_s'),
  unet_calls_per_pass: part('unet_calls_per_pass'),
  vae_decode_s: part('vae_decode_s'),
  safety_checker_s: part('safety_checker_s'),
  rest_s: part('rest_s'),
  article_seed_s: (r, run) => fig(run, r)?.seed_s,
  article_published_s: (r, run) => fig(run, r)?.published_s,
  error: (r) => r.error,
} satisfies Record<string, Cell>;

export const CSV_COLUMNS = Object.keys(COLUMNS) as (keyof typeof COLUMNS)[];

export function renderCsv(run: RunFile): string {
  const lines = [CSV_COLUMNS, ...run.rungs.map((r) => CSV_COLUMNS.map((c) => (COLUMNS[c] as Cell)(r, run)))];
  return lines.map((l) => l.map(csvField).join(',')).join('\r\n') + '\r\n';
}
