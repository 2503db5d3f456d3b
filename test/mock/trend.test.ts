// `ladder trend` on five hand-made nightly runs: one HTML page, a chart with one point per night and
// rung, the regressed night marked, the version change labelled, nothing external.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { thresholdBands } from '../../src/nightly/judge.ts';
import { TREND_MARKS } from '../../src/render/trend.ts';
import type { RunFile } from '../../src/results/run-file.ts';
import { stats } from '../../src/results/stats.ts';
import { fixtureRun } from '../fixtures/run.ts';
import { ladder, tmpDir } from '../helpers.ts';

const MACHINE = 'vm-2cpu-test';
const NIGHTS = 5;
const REGRESSED_NIGHT = 3; // jemalloc gets 25% slower
const CHANGE_NIGHT = 2; // torch 2.13.0 -> 2.14.0
const IMPROVED_NIGHT = 4; // dpm gets 15% faster
const UNSTABLE_NIGHT = 1; // tcmalloc's machine moved

/** Night i: fixtureRun() with its medians drifting a little, as nightly stores it. */
function night(i: number): RunFile {
  const run = fixtureRun();
  const started = new Date(Date.UTC(2026, 10, 20 + i, 2, 15, 3)).toISOString();
  run.started = started;
  run.finished = new Date(Date.parse(started) + 3600e3).toISOString();
  run.tool.git_revision = `${String(i).repeat(8)}aaaabbbbccccdddd`;
  for (const r of run.rungs) {
    if (r.status !== 'ok') continue;
    const f =
      (1 + 0.01 * i) *
      (r.id === 'jemalloc' && i === REGRESSED_NIGHT ? 1.25 : 1) *
      (r.id === 'dpm' && i === IMPROVED_NIGHT ? 0.85 : 1);
    r.samples_s = r.samples_s.map((s) => s * f);
    r.stats = stats(r.samples_s);
  }
  run.nightly = {
    machine_id: MACHINE,
    verdicts: run.rungs.map((r) => ({
      id: r.id,
      verdict:
        r.status === 'failed'
          ? 'failed'
          : i === 0
            ? 'new'
            : r.id === 'jemalloc' && i === REGRESSED_NIGHT
              ? 'regressed'
              : r.id === 'dpm' && i === IMPROVED_NIGHT
                ? 'improved'
                : r.id === 'tcmalloc' && i === UNSTABLE_NIGHT
                  ? 'unstable'
                  : 'unchanged',
      ...(r.id === 'jemalloc' && i === REGRESSED_NIGHT ? { ratio: 1.26, p: 0.0002 } : {}),
      ...(r.id === 'dpm' && i === IMPROVED_NIGHT ? { ratio: 0.85, p: 0.0002 } : {}),
    })),
    version_changes:
      i === CHANGE_NIGHT
        ? [
            { env: 'torch', package: 'torch', from: '2.13.0', to: '2.14.0' },
            { env: 'ipex', package: 'torch', from: '2.13.0', to: '2.14.0' },
          ]
        : [],
  };
  return run;
}

/** trend.html as written by the CLI (read in beforeAll). */
let html = '';
/** The aria-labels of the night points, 'rung YYYY-MM-DD HH:MM UTC: median ...'. */
const points = () =>
  [...html.matchAll(/<path [^>]*aria-label="([^"]*)"/g)]
    .map((m) => decode(m[1]!))
    .filter((l) => /^[\w-]+ \d{4}-\d\d-\d\d \d\d:\d\d UTC: median/.test(l));
const decode = (s: string) =>
  s
    .replace(/&gt;/g, '>')
    .replace(/&lt;/g, '<')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');

describe('ladder trend', () => {
  let history: string;
  beforeAll(async () => {
    history = tmpDir('ladder-trend-');
    for (let i = 0; i < NIGHTS; i++) {
      const run = night(i);
      const dir = path.join(history, MACHINE, run.started.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-'));
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'run.json'), `${JSON.stringify(run, null, 2)}\n`);
    }
    // A night that died before writing anything readable: skipped, with a warning.
    mkdirSync(path.join(history, MACHINE, '2026-11-19T02-15-03Z'));
    writeFileSync(path.join(history, MACHINE, '2026-11-19T02-15-03Z', 'run.json'), '{"schema_version": 1, "rungs": [');
    const r = await ladder(['trend', '--history', history]);
    expect(r.exitCode, r.all).toBe(0);
    const out = path.join(history, MACHINE, 'trend.html');
    expect(r.stdout.trim()).toBe(out);
    expect(r.stderr).toMatch(/warning: skipping 2026-11-19T02-15-03Z: .*not valid JSON/);
    expect(existsSync(out)).toBe(true);
    html = readFileSync(out, 'utf8');
  });

  test('a self-contained page with the chart as inline SVG', () => {
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg');
    expect(html).toContain(MACHINE);
    expect(html).not.toMatch(/<script/i);
    // No URL at all: the SVG namespace declarations are dropped when it is inlined.
    const urls = [...html.matchAll(/https?:\/\/[^\s"'<>)]+/g)]
      .map((m) => m[0])
      .filter((u) => !u.startsWith('http://www.w3.org/'));
    expect(urls).toEqual([]);
  });

  test('one point per night per measured rung, the regressed night as a red triangle', () => {
    const ok = fixtureRun()
      .rungs.filter((r) => r.status === 'ok')
      .map((r) => r.id);
    const pts = points();
    expect(pts).toHaveLength(NIGHTS * ok.length);
    for (const id of ok)
      expect(
        pts.filter((l) => l.startsWith(`${id} `)),
        id,
      ).toHaveLength(NIGHTS);
    const regressed = pts.filter((l) => l.includes('regressed'));
    expect(regressed).toEqual([expect.stringMatching(/^jemalloc 2026-11-23 02:15 UTC: median .*regressed, 1\.26x$/)]);
    // Regressed points are their own mark, drawn red.
    const groups = [
      ...html.matchAll(
        new RegExp(`class="mark-symbol role-mark ${TREND_MARKS.regressed}_\\d+_marks"[^>]*>(.*?)</g>`, 'gs'),
      ),
    ];
    expect(groups, 'one regressed mark group').toHaveLength(1);
    const marks = groups[0]![1]!.match(/<path [^>]*>/g)!;
    expect(marks).toHaveLength(1);
    expect(marks[0]).toMatch(/aria-label="jemalloc 2026-11-23 [^"]*".*fill="#d62728"/);
    expect(marks[0]).not.toMatch(/d="M[\d.]+,0A/); // a triangle, not the other nights' circle
    expect(html).not.toMatch(/ipex-bf16 \d{4}-/); // failed every night: no point
  });

  /** The <path> marks of a layer (one group over all panels expected), by its TREND_MARKS name. */
  const markPaths = (name: string) => {
    const groups = [
      ...html.matchAll(new RegExp(`class="mark-[a-z]+ role-mark ${name}_\\d+_marks"[^>]*>(.*?)</g>`, 'gs')),
    ];
    return groups.flatMap((g) => g[1]!.match(/<path [^>]*>/g) ?? []);
  };

  test('improved nights as green triangles, unstable ones as grey diamonds', () => {
    const improved = markPaths(TREND_MARKS.improved);
    expect(improved).toHaveLength(1);
    expect(improved[0]).toMatch(/aria-label="dpm 2026-11-24 [^"]*improved, 0\.85x".*fill="#2ca02c"/);
    const unstable = markPaths(TREND_MARKS.unstable);
    expect(unstable).toHaveLength(1);
    expect(unstable[0]).toMatch(/aria-label="tcmalloc 2026-11-21 [^"]*unstable".*fill="#7f7f7f"/);
    expect(html).toContain('<span class="improved">improved: dpm (0.85x, p=0.00020)</span>');
    expect(html).toContain('<span class="unstable">unstable: tcmalloc</span>');
  });

  test("the judge's threshold band behind each rung's nights", () => {
    const panels = new Set(points().map((l) => l.split(' ')[0])).size;
    // One band (an area) per panel, drawn.
    const bands = markPaths(TREND_MARKS.band);
    expect(bands).toHaveLength(panels);
    for (const b of bands) expect(b).toMatch(/ d="M[^"]+Z"/);
    // What it draws: the earlier nights' pooled median ×÷ (1 + threshold); with fewer than five
    // earlier nights the threshold is twice the factor (±20%); an unstable night is no reference.
    const nights = Array.from({ length: NIGHTS }, (_, i) => night(i));
    const b = thresholdBands(nights);
    const median0 = (id: string) => stats(nights[0]!.rungs.find((r) => r.id === id)!.samples_s).median_s;
    expect(b.jemalloc!.map((x) => x.started)).toEqual(nights.slice(1).map((n) => n.started));
    expect(b.jemalloc![0]!.limit).toBeCloseTo(0.2, 10);
    expect(b.jemalloc![0]!.hi_s).toBeCloseTo(median0('jemalloc') * 1.2, 9);
    expect(b.jemalloc![0]!.lo_s).toBeCloseTo(median0('jemalloc') / 1.2, 9);
    expect(b.tcmalloc![1]!.hi_s).toBeCloseTo(median0('tcmalloc') * 1.2, 9); // night 1 (unstable) left out
    expect(b['ipex-bf16']).toBeUndefined(); // failed every night
  });

  test('the version change is drawn as a rule with its label, and listed in the table', () => {
    const text = decode(html);
    expect(text).toContain('torch 2.13.0 -> 2.14.0 (torch, ipex)');
    const panels = new Set(points().map((l) => l.split(' ')[0])).size;
    // A dashed rule in every panel, the label once, at the top.
    expect(html.match(new RegExp(`${TREND_MARKS.changes}_\\d+_marks`, 'g'))).toHaveLength(panels);
    expect(html).toMatch(
      new RegExp(
        `${TREND_MARKS.changeLabels}_0_marks[^>]*><text [^>]*>torch 2\\.13\\.0 -&gt; 2\\.14\\.0 \\(torch, ipex\\)</text>`,
      ),
    );
    const table = /<table id="nights">([\s\S]*)<\/table>/.exec(html)![1]!;
    const rows = table.match(/<tr[ >][\s\S]*?<\/tr>/g)!.slice(1);
    expect(rows).toHaveLength(NIGHTS);
    expect(rows[0]).toContain('2026-11-24 02:15 UTC'); // newest first
    expect(rows[0]).toContain('44444444aaaa');
    expect(rows[0]).toContain('6 ok, 1 failed');
    expect(rows[NIGHTS - 1 - REGRESSED_NIGHT]).toMatch(/class="regressed".*jemalloc \(1\.26x, p=0\.00020\)/s);
    expect(rows[NIGHTS - 1 - CHANGE_NIGHT]).toContain('torch 2.13.0 -&gt; 2.14.0 (torch, ipex)');
  });

  test('bad input is one line of error and exit code 2', async () => {
    const two = tmpDir('ladder-trend-two-');
    mkdirSync(path.join(two, 'a'));
    mkdirSync(path.join(two, 'b'));
    const cases: [string[], RegExp][] = [
      [['--history', path.join(history, 'nope')], /no such directory/],
      [['--history', two], /holds 2 machines: pick one with --machine \(a, b\)/],
      [['--history', history, '--machine', 'other'], /no machine "other" \(machines: vm-2cpu-test\)/],
      [['--history', two, '--machine', 'a'], /no readable nightly run\.json/],
    ];
    for (const [args, msg] of cases) {
      const r = await ladder(['trend', ...args]);
      expect(r.exitCode, r.all).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }
  });
});
