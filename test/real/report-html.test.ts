// `ladder report DIR` as a user runs it, then report.html opened in real headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core): the page a person would look at.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MARKS } from '../../src/render/chart.ts';
import { REPORT_FILES } from '../../src/render/html.ts';
import { RUN_CHARTS, RUN_MARKS } from '../../src/render/run-charts.ts';
import { reportRun } from '../fixtures/run.ts';
import { ladder, tmpDir } from '../helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const FILES = [...REPORT_FILES];

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
// Headless and offline: no sandbox (root), and none of Chromium's own network traffic.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('ladder report DIR', () => {
  let dir: string;
  beforeAll(() => {
    dir = tmpDir('ladder-report-');
    writeFileSync(path.join(dir, 'run.json'), `${JSON.stringify(reportRun(), null, 2)}\n`);
  });

  test('writes every report and picture from run.json', async () => {
    const r = await ladder(['report', dir]);
    expect(r.exitCode, r.all).toBe(0);
    for (const f of FILES) {
      expect(existsSync(path.join(dir, f)), f).toBe(true);
      expect(statSync(path.join(dir, f)).size, f).toBeGreaterThan(100);
      expect(r.stdout).toContain(path.join(dir, f));
    }
    for (const name of ['chart', ...RUN_CHARTS.map((c) => c.name)]) {
      expect([...readFileSync(path.join(dir, `${name}.png`)).subarray(0, 8)], name).toEqual(PNG_SIGNATURE);
      expect(readFileSync(path.join(dir, `${name}.svg`), 'utf8'), name).toMatch(
        /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
      );
    }
    expect(readFileSync(path.join(dir, 'results.csv'), 'utf8').split('\r\n').filter(Boolean)).toHaveLength(9);
    expect(readFileSync(path.join(dir, 'report.md'), 'utf8')).toContain('## Failed rungs');
  });

  test('bad input is one line of error and exit code 2', async () => {
    const cases: [string, RegExp][] = [
      [path.join(dir, 'nope'), /no such run directory or file: .*nope$/],
      [path.join(dir, 'report.md'), /is not a directory/],
    ];
    const empty = tmpDir('ladder-report-empty-');
    cases.push([empty, /is not a run directory \(no run\.json in it\)/]);
    const broken = tmpDir('ladder-report-broken-');
    writeFileSync(path.join(broken, 'run.json'), '{"schema_version": 1, "rungs": [');
    cases.push([broken, /run\.json: not valid JSON/]);
    const wrong = tmpDir('ladder-report-wrong-');
    writeFileSync(
      path.join(wrong, 'run.json'),
      JSON.stringify({ schema_version: 1, command: 'x', machine: {}, rungs: [{ id: 'a', status: 'done' }] }),
    );
    cases.push([wrong, /run\.json: not a ladder run file: /]);
    for (const [arg, msg] of cases) {
      const r = await ladder(['report', arg]);
      expect(r.exitCode, r.all).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }
  });

  describe('report.html in headless Chromium', () => {
    let context: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
    beforeAll(async () => {
      if (!existsSync(CHROMIUM)) {
        throw new Error(
          `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser test; .ci/run does`,
        );
      }
      const profile = path.join(dir, 'chromium-profile'); // a fresh, empty --user-data-dir
      mkdirSync(profile);
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1280, height: 900 },
        offline: true,
      });
    });
    afterAll(async () => {
      await context?.close();
    });

    test('shows the chart with one bar per ok rung, the table and the failure', async () => {
      if (!existsSync(path.join(dir, 'report.html'))) await ladder(['report', dir]);
      const page = await context!.newPage();
      const requests: string[] = [];
      page.on('request', (req) => {
        if (!req.url().startsWith('file:')) requests.push(req.url());
      });
      await page.goto(pathToFileURL(path.join(dir, 'report.html')).href);
      expect(await page.title()).toBe('ladder report: article');
      const run = reportRun();
      const ok = run.rungs.filter((r) => r.status === 'ok');

      const svg = page.locator('figure#chart svg');
      await expect.poll(() => svg.count()).toBe(1);
      const bars = svg.locator(`g.${MARKS.bars}_marks path[role="graphics-symbol"]`);
      expect(await bars.count()).toBe(ok.length);
      // Each bar has its extent on screen, and its aria-label names its rung.
      const labels = await bars.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
      expect(labels.map((l) => l.split(':')[0])).toEqual(ok.map((r) => r.id));
      for (const box of await bars.evaluateAll((els) =>
        els.map((e) => (e as SVGGraphicsElement).getBoundingClientRect().toJSON() as DOMRect),
      )) {
        expect(box.width).toBeGreaterThan(1);
        expect(box.height).toBeGreaterThan(5);
      }
      const chartText = await svg.textContent();
      expect(chartText).toContain('3.4x');
      expect(chartText).toContain('failed');
      expect(chartText).toContain('32-core Sapphire Rapids');

      const rows = page.locator('table#rungs tbody tr');
      expect(await rows.count()).toBe(8);
      expect(await rows.nth(5).locator('th').textContent()).toBe('ipex-bf16');
      expect(await page.locator('#failed li').textContent()).toContain('unet has no bfloat16 weights');
      expect(await page.locator('dl.meta').textContent()).toContain('Intel(R) Xeon(R) Processor, 2 logical CPUs');
      expect(requests).toEqual([]); // self-contained: nothing fetched but the file itself

      // What report.md says besides its tables, on the page too.
      for (const [sel, text] of [
        ['#best', 'Best on this machine: openvino-static, 3.40x over baseline'],
        ['#machine-drift', 'fp32 -2.5% (258 → 252 GFLOP/s)'],
        ['#roofline-note', 'Measured matrix-product peak: fp32 262 GFLOP/s, bf16 611 GFLOP/s'],
        ['#skipped li', 'zentorch: zentorch runs on AMD CPUs only'],
      ]) {
        await expect.poll(() => page.locator(sel!).isVisible(), { message: sel }).toBe(true);
        expect(await page.locator(sel!).textContent(), sel).toContain(text);
      }

      const shot = path.join(dir, 'report-screenshot.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect([...readFileSync(shot).subarray(0, 8)]).toEqual(PNG_SIGNATURE);
      console.log(`screenshot: ${shot}`);
    });

    test('draws each picture of the run: passes, UNet calls, components, roofline', async () => {
      if (!existsSync(path.join(dir, 'report.html'))) await ladder(['report', dir]);
      const page = await context!.newPage();
      await page.goto(pathToFileURL(path.join(dir, 'report.html')).href);
      const ok = reportRun().rungs.filter((r) => r.status === 'ok');
      const calls = ok.map((r) => r.breakdown!.unet_calls_per_pass!);
      /** The drawn marks of a layer: vega's <path>s in its group, each with an extent on screen. */
      const marks = async (figure: string, layer: string) => {
        const paths = page.locator(`figure#${figure} svg g[class~="${layer}_marks"] path`);
        const boxes = await paths.evaluateAll((els) =>
          els.map((e) => (e as SVGGraphicsElement).getBoundingClientRect().toJSON() as DOMRect),
        );
        for (const b of boxes) expect(b.width + b.height, `${figure} ${layer}`).toBeGreaterThan(2);
        return boxes.length;
      };
      for (const c of RUN_CHARTS) {
        const svg = page.locator(`figure#${c.name} svg`);
        await expect.poll(() => svg.count(), { message: c.name }).toBe(1);
        expect(await svg.isVisible(), c.name).toBe(true);
        await svg.scrollIntoViewIfNeeded();
        const box = (await svg.boundingBox())!;
        expect(box.width, c.name).toBeGreaterThan(400);
        expect(box.height, c.name).toBeGreaterThan(150);
      }
      // passes: every timed pass, the outlying one of each rung in red.
      const outliers = await marks('passes', RUN_MARKS.outliers);
      expect(outliers).toBe(ok.length);
      expect((await marks('passes', RUN_MARKS.passes)) + outliers).toBe(10 * ok.length);
      // UNet calls: one panel per rung, every call of its slowest pass; warm-up and straggler in red.
      for (const [i, n] of calls.entries()) {
        const slow = await marks('unet-calls', `${RUN_MARKS.slowCalls}_${i}`);
        expect(slow, ok[i]!.id).toBe(2);
        expect((await marks('unet-calls', `${RUN_MARKS.calls}_${i}`)) + slow, ok[i]!.id).toBe(n);
      }
      expect(await page.locator('figure#unet-calls svg').textContent()).toContain('UNet call in the pass');
      // components: five stacked parts per rung, the legend naming them.
      expect(await marks('components', RUN_MARKS.components)).toBe(5 * ok.length);
      const legend = await page.locator('figure#components svg').textContent();
      for (const part of ['text encoder', 'UNet', 'VAE decode', 'safety checker', 'rest'])
        expect(legend).toContain(part);
      // roofline: a bar and a peak tick per rung, its share as text.
      expect(await marks('roofline', RUN_MARKS.rates)).toBe(ok.length);
      expect(await marks('roofline', RUN_MARKS.peaks)).toBe(ok.length);
      expect(await page.locator('figure#roofline svg').textContent()).toContain('85% of bf16 peak');
    });
  });
});
