// The trend page's time axis: 24-hour UTC whatever the machine's time zone, and the date on the labels
// when the nights span more than one day.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { timeAxisFormat, trendSvg } from '../../src/render/trend.ts';
import type { RunFile } from '../../src/results/run-file.ts';
import { fixtureRun } from '../fixtures/run.ts';

type Night = RunFile & { started: string };
const night = (iso: string): Night => ({ ...fixtureRun(), started: iso });

/** The x axis tick labels of the SVG; `visible`: only those vega did not hide for overlapping. */
function axisLabels(svg: string, visible = false): string[] {
  const groups = [...svg.matchAll(/<g class="mark-text role-axis-label"[^>]*>(.*?)<\/g>/gs)].map((m) => m[1]!);
  const labels = groups.flatMap((g) =>
    [...g.matchAll(/<text [^>]*?opacity="([\d.]+)"[^>]*>([^<]*)<\/text>/g)]
      .filter((m) => !visible || Number(m[1]) > 0)
      .map((m) => m[2]!),
  );
  return labels.filter((l) => !/^\d+(\.\d+)?$/.test(l)); // the y axes' labels are plain numbers
}

describe('trend time axis', () => {
  // A time zone far from UTC: a local-time scale or format would shift every label.
  const tz = process.env.TZ;
  beforeAll(() => {
    process.env.TZ = 'America/Los_Angeles';
  });
  afterAll(() => {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  });

  test('within one day: a night at 17:35Z reads 17:35 (24-hour UTC), not 05:35 or 09:35', async () => {
    expect(new Date(Date.UTC(2026, 10, 20, 17, 35)).getHours()).toBe(9); // the zone is in effect
    const svg = await trendSvg([night('2026-11-20T17:35:00.000Z'), night('2026-11-20T17:45:00.000Z')], 'm');
    const labels = axisLabels(svg);
    expect(labels.length).toBeGreaterThan(0);
    expect(labels).toContain('17:35');
    for (const l of labels) expect(l).toMatch(/^17:[0-5]\d$/); // 24-hour, UTC, no date, no AM/PM
    expect(labels).not.toContain('05:35');
    expect(labels).not.toContain('09:35');
  });

  test('across days: the labels carry the date', async () => {
    const svg = await trendSvg(
      [night('2026-11-20T17:35:00.000Z'), night('2026-11-21T17:35:00.000Z'), night('2026-11-22T17:35:00.000Z')],
      'm',
    );
    const shown = axisLabels(svg, true);
    expect(shown.length).toBeGreaterThan(1);
    for (const l of shown) expect(l).toMatch(/^2026-11-2[0-3] [0-2]\d:[0-5]\d$/);
    expect(shown.some((l) => l.startsWith('2026-11-21 '))).toBe(true);
    // A lone night spans a day of axis (half a day either side): dated too, in UTC.
    const lone = axisLabels(await trendSvg([night('2026-11-20T17:35:00.000Z')], 'm'), true);
    expect(lone.length).toBeGreaterThan(1);
    for (const l of lone) expect(l).toMatch(/^2026-11-2[01] [0-2]\d:00$/);
    expect(lone).toContain('2026-11-20 18:00');
  });

  test('the same SVG in any time zone', async () => {
    const nights = [night('2026-11-20T23:20:00.000Z'), night('2026-11-21T00:40:00.000Z')];
    const here = await trendSvg(nights, 'm');
    process.env.TZ = 'Asia/Kolkata';
    try {
      expect(await trendSvg(nights, 'm')).toBe(here);
    } finally {
      process.env.TZ = 'America/Los_Angeles';
    }
  });

  test('timeAxisFormat: the date only when the axis leaves one UTC day', () => {
    const t = (iso: string) => Date.parse(iso);
    expect(timeAxisFormat(t('2026-11-20T00:00:00Z'), t('2026-11-20T23:59:59Z'))).toBe('%H:%M');
    expect(timeAxisFormat(t('2026-11-20T23:50:00Z'), t('2026-11-21T00:10:00Z'))).toBe('%Y-%m-%d %H:%M');
    expect(timeAxisFormat(Number.NaN, Number.NaN)).toBe('%Y-%m-%d %H:%M');
  });
});
