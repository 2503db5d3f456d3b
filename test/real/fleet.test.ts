// ladder fleet through a real Slurm on this machine (scripts/slurm-testbed.sh: Debian's munged,
// slurmctld, and one slurmd per machine class in its own network namespace). The fleet runs a
// smoke ladder on the sleep mock, so the test measures nothing that timing noise could flip. If the
// testbed cannot start, the test fails with its reason: it never passes without Slurm.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/paths.ts';
import { ladder, tmpDir } from '../helpers.ts';

const BED = path.join(repoRoot, 'scripts', 'slurm-testbed.sh');
const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8'));

describe('ladder fleet on a real Slurm of two nodes (network namespaces)', () => {
  const bed = tmpDir('ladder-slurm-');
  const root = tmpDir('ladder-fleet-');
  const fleetFile = path.join(root, 'fleet.yaml');
  let env: Record<string, string>;
  let first: Awaited<ReturnType<typeof ladder>>;
  let second: Awaited<ReturnType<typeof ladder>>;
  let manifests: any[];

  beforeAll(async () => {
    const up = await execa('bash', [BED, 'up', bed], { reject: false, all: true });
    if (up.exitCode !== 0) throw new Error(`the Slurm testbed did not start: ${up.all}`);
    env = { SLURM_CONF: path.join(bed, 'slurm.conf') };
    const ladderFile = path.join(root, 'smoke.yaml');
    writeFileSync(
      ladderFile,
      'name: smoke\nrungs:\n  - { id: base, backend: sleep, options: { pass_s: 0.05 } }\n  - { id: fast, backend: sleep, options: { pass_s: 0.02 } }\n',
    );
    writeFileSync(
      fleetFile,
      `name: lab
engine: slurm
root: ${root}
command: nightly
ladder: ${ladderFile}
profile: smoke
model: none
args: [--no-roofline, --no-machine-probe, --steps, "2", --warmup-steps, "1"]
machine_id: node
classes:
  - { name: spr, feature: spr, partition: bench }
  - { name: zen4, feature: zen4, partition: bench }
  - { name: gnr, feature: gnr, partition: bench }
`,
    );
    // Two submissions: each class's second job waits for its first (--dependency=singleton).
    first = await ladder(['fleet', 'submit', '--fleet', fleetFile], env);
    second = await ladder(['fleet', 'submit', '--fleet', fleetFile, '--wait', '--poll', '1'], env);
    manifests = readdirSync(path.join(root, 'fleet'))
      .sort()
      .map((id) => readJson(path.join(root, 'fleet', id, 'manifest.json')));
  }, 900_000);

  afterAll(async () => {
    await execa('bash', [BED, 'down', bed], { reject: false });
  });

  it('submits one exclusive job per class; an unavailable class fails alone', () => {
    expect(first.exitCode, first.all).toBe(1); // gnr: no node has the feature
    expect(first.all).toMatch(/gnr: not submitted: sbatch: .*(feature|constraint)/i);
    expect(manifests).toHaveLength(2);
    for (const m of manifests) {
      const by = Object.fromEntries(m.jobs.map((j: any) => [j.class, j]));
      expect(by.gnr.state).toBe('failed');
      expect(by.gnr.id).toBeUndefined();
      expect(by.spr.id).toMatch(/^\d+$/);
      expect(by.zen4.id).toMatch(/^\d+$/);
    }
    const last = Object.fromEntries(manifests[1].jobs.map((j: any) => [j.class, j]));
    expect(last.spr.state, second.all).toBe('completed');
    expect(last.zen4.state).toBe('completed');
    expect(readFileSync(last.spr.script, 'utf8')).toContain('bin/ladder.js nightly --history');
  });

  it('each job ran on the node with its feature, and its run.json says so', () => {
    for (const m of manifests) {
      const g = (cls: string) => m.jobs.find((j: any) => j.class === cls);
      for (const [cls, node] of [
        ['spr', 'n1'],
        ['zen4', 'n2'],
      ] as const) {
        const job = g(cls);
        const runs = readdirSync(path.join(root, 'history', node))
          .filter((d) => existsSync(path.join(root, 'history', node, d, 'run.json')))
          .map((d) => readJson(path.join(root, 'history', node, d, 'run.json')));
        const run = runs.find((r) => r.scheduler?.job_id === job.id);
        expect(run, `no run of job ${job.id} on ${node}`).toBeDefined();
        expect(run.scheduler).toMatchObject({ engine: 'slurm', node, class: cls, fleet: m.id, partition: 'bench' });
        expect(run.nightly.machine_id).toBe(node);
      }
    }
  });

  it('two jobs of one class ran one after the other, never overlapping', () => {
    const runs = readdirSync(path.join(root, 'history', 'n1'))
      .filter((d) => existsSync(path.join(root, 'history', 'n1', d, 'run.json')))
      .map((d) => readJson(path.join(root, 'history', 'n1', d, 'run.json')))
      .sort((a, b) => Date.parse(a.started) - Date.parse(b.started));
    expect(runs).toHaveLength(2);
    expect(Date.parse(runs[0].finished)).toBeLessThanOrEqual(Date.parse(runs[1].started));
  });

  it('status reads the states back from Slurm', async () => {
    const r = await ladder(['fleet', 'status', '--fleet', fleetFile], env);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/^spr\s+\d+\s+completed\s+n1/m);
    expect(r.stdout).toMatch(/^zen4\s+\d+\s+completed\s+n2/m);
  });

  it('gather finds both machines, names the missing class and warns of one CPU under two ids', async () => {
    const r = await ladder(['fleet', 'gather', '--fleet', fleetFile], env);
    expect(r.exitCode, r.all).toBe(1); // a class is missing
    expect(r.stdout).toMatch(/missing: class gnr has no finished run \(job failed/);
    expect(r.stderr).toMatch(/warning: machine ids n1, n2 share one CPU fingerprint/);
    const g = readJson(path.join(root, 'fleet', manifests[1].id, 'gathered.json'));
    expect(g.runs.map((x: any) => x.machine_id).sort()).toEqual(['n1', 'n2']);
  });

  it('the cross-machine page renders in headless Chromium with both machines', async () => {
    const r = await ladder(['fleet', 'report', '--fleet', fleetFile], env);
    expect(r.exitCode, r.all).toBe(0);
    const dir = path.join(root, 'fleet', manifests[1].id);
    for (const f of ['fleet.md', 'fleet.csv', 'fleet.html', 'fleet.svg'])
      expect(existsSync(path.join(dir, f)), f).toBe(true);
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(pathToFileURL(path.join(dir, 'fleet.html')).href);
      const heads = await page.$$eval('#fleet thead th.machine', (ths) => ths.map((t) => t.textContent));
      expect(heads).toEqual(['spr (n1)', 'zen4 (n2)']);
      const rows = await page.$$eval('#fleet tbody tr', (trs) => trs.map((t) => t.querySelector('th')?.textContent));
      expect(rows).toEqual(['base', 'fast']);
      expect(await page.locator('figure.chart svg').count()).toBe(1);
      expect(await page.locator('#warnings').textContent()).toMatch(/class gnr has no run/);
      // Each machine's trend page, written beside its history by the report.
      const trends = (await page.$$eval('a', (as) => as.map((x) => x.getAttribute('href') ?? '')))
        .filter((h) => h.endsWith('trend.html'))
        .map((h) => path.resolve(dir, h));
      expect(trends.map((h) => path.basename(path.dirname(h))).sort()).toEqual(['n1', 'n2']);
      for (const h of trends) expect(existsSync(h), h).toBe(true);
    } finally {
      await browser.close();
    }
    expect(readFileSync(path.join(dir, 'fleet.csv'), 'utf8').split('\r\n')[0]).toBe(
      'rung,machine_id,class,status,median_s,speedup,article_published_s,article_speedup,unet_pct_of_peak,dtype',
    );
  });
});

describe('ladder fleet with the local engine (no cluster)', () => {
  it('runs the classes one after the other on this machine and reports one column per class', async () => {
    const root = tmpDir('ladder-fleet-local-');
    const ladderFile = path.join(root, 'smoke.yaml');
    writeFileSync(ladderFile, 'name: smoke\nrungs:\n  - { id: base, backend: sleep, options: { pass_s: 0.05 } }\n');
    const fleetFile = path.join(root, 'fleet.yaml');
    writeFileSync(
      fleetFile,
      `name: home\nengine: local\nroot: ${root}\nladder: ${ladderFile}\nprofile: smoke\nmodel: none\nargs: [--no-roofline, --no-machine-probe]\nclasses: [{ name: a }, { name: b }]\n`,
    );
    const r = await ladder(['fleet', 'submit', '--fleet', fleetFile, '--poll', '0.2']);
    expect(r.exitCode, r.all).toBe(0);
    const [id] = readdirSync(path.join(root, 'fleet'));
    const m = readJson(path.join(root, 'fleet', id!, 'manifest.json'));
    expect(m.jobs.map((j: any) => [j.class, j.state])).toEqual([
      ['a', 'completed'],
      ['b', 'completed'],
    ]);
    const history = path.join(root, 'history');
    const [machine] = readdirSync(history).filter((d) => !d.startsWith('.'));
    const runs = readdirSync(path.join(history, machine!))
      .filter((d) => existsSync(path.join(history, machine!, d, 'run.json')))
      .map((d) => readJson(path.join(history, machine!, d, 'run.json')))
      .sort((x, y) => Date.parse(x.started) - Date.parse(y.started));
    expect(runs.map((x) => [x.scheduler.engine, x.scheduler.class, x.scheduler.fleet])).toEqual([
      ['local', 'a', id],
      ['local', 'b', id],
    ]);
    expect(Date.parse(runs[0].finished)).toBeLessThanOrEqual(Date.parse(runs[1].started)); // never two at once
    const rep = await ladder(['fleet', 'report', '--fleet', fleetFile]);
    expect(rep.exitCode, rep.all).toBe(0);
    const md = readFileSync(path.join(root, 'fleet', id!, 'fleet.md'), 'utf8');
    expect(md).toContain(`a (${machine})`);
    expect(md).toContain(`b (${machine})`);
  }, 300_000);
});
