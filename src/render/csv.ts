// results.csv: one row per rung, numbers at full precision, quoted as RFC 4180 says.

import type { RunFile, RungResult } from '../results/run-file.ts';
import { isPlainNumber } from './markdown.ts';

export const CSV_COLUMNS = [
  'id',
  'status',
  'n',
  'median_s',
  'mean_s',
  'stdev_s',
  'min_s',
  'max_s',
  'speedup_vs_baseline',
  'speedup_vs_previous',
  'compare_to',
  'article_seed_s',
  'article_published_s',
  'error',
] as const;

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

function row(run: RunFile, r: RungResult): unknown[] {
  const s = r.stats;
  const fig = run.ladder?.figures[r.id] ?? r.article;
  return [
    r.id,
    r.status,
    s?.n ?? r.samples_s.length,
    s?.median_s,
    s?.mean_s,
    s?.stdev_s,
    s?.min_s,
    s?.max_s,
    r.speedup_vs_baseline,
    r.speedup_vs_previous,
    r.compare_to,
    fig?.seed_s,
    fig?.published_s,
    r.error,
  ];
}

export function renderCsv(run: RunFile): string {
  const lines = [CSV_COLUMNS as readonly unknown[], ...run.rungs.map((r) => row(run, r))];
  return lines.map((l) => l.map(csvField).join(',')).join('\r\n') + '\r\n';
}
