// Throughput with several instances, for real: two torch workers on synthetic:tiny, each pinned by
// taskset to its own core and proven from inside (its affinity, its thread count), benched at once,
// next to one worker on both cores. The figures are printed, not judged: on a shared 2-core machine
// which one is faster is a measurement, not a test.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { allowedCores } from '../../src/launcher/instances.ts';
import { ladder, TINY, tmpDir } from '../helpers.ts';

describe('instances: 2 workers of 1 core at once, next to 1 worker of 2 cores', () => {
  const cores = allowedCores().slice(0, 2);
  const dir = tmpDir();
  const out = path.join(dir, 'out');
  let result: Awaited<ReturnType<typeof ladder>>;
  let byId: Record<string, any>;

  beforeAll(async () => {
    if (cores.length < 2) throw new Error(`this test needs 2 cores; this process may use ${cores.join(',')}`);
    const file = path.join(dir, 'ladder.yaml');
    writeFileSync(
      file,
      `name: instances
rungs:
  - { id: one-of-2, backend: torch, launcher: { bind: taskset, cores: "${cores.join(',')}", threads: 2 } }
  - { id: two-of-1, backend: torch, launcher: { instances: 2, cores: "${cores.join(',')}" } }
`,
    );
    result = await ladder(['reproduce', '--ladder', file, ...TINY, '--passes', '6', '--no-roofline', '--out', out]);
    byId = Object.fromEntries(
      JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')).rungs.map((r: any) => [r.id, r]),
    );
  }, 900_000);

  it('pins each instance to its own core, proven from inside each worker', () => {
    expect(result.exitCode, result.all).toBe(0);
    const two = byId['two-of-1'];
    expect(two.status).toBe('ok');
    expect(two.instances.map((i: any) => i.cores)).toEqual([[cores[0]], [cores[1]]]);
    expect(two.instances.map((i: any) => i.threads)).toEqual([1, 1]);
    expect(new Set(two.instances.map((i: any) => i.pid)).size).toBe(2);
    // Both met at the barrier after their warm-ups: each says how long it waited for the other (a rung
    // of one instance has no barrier, and reports null).
    for (const i of two.instances) expect(typeof i.barrier_wait_s).toBe('number');
    // ...so neither got through its timed passes before the other began: each one's first pass started
    // before the other's last pass ended. (Whole spans, not single passes: a pass of synthetic:tiny is
    // short enough that a busy machine could delay one instance past the other's first pass.)
    const [a, b] = two.instances.map((i: any) => [i.windows[0][0], i.windows.at(-1)[1]]);
    expect(a[0] < b[1] && b[0] < a[1], `timed spans ${a} and ${b}`).toBe(true);
    expect(byId['one-of-2'].instances).toBeUndefined();
    // Each instance ran its own passes, and samples_s pools them.
    for (const i of two.instances) expect(i.samples_s).toHaveLength(6);
    expect(two.samples_s).toHaveLength(12);
  });

  it('counts images/s over the window in which both ran, and reports it beside the latency', () => {
    const two = byId['two-of-1'];
    const one = byId['one-of-2'];
    const [a, b] = two.instances.map((i: any) => i.windows);
    const start = Math.max(a[0][0], b[0][0]);
    const end = Math.min(a.at(-1)[1], b.at(-1)[1]);
    expect(two.throughput.window_s).toBeCloseTo(end - start, 6);
    expect(two.throughput.instances).toBe(2);
    expect(two.throughput.images).toBeGreaterThan(0);
    expect(one.throughput.instances).toBe(1);
    const report = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(report).toContain('## Latency and throughput');
    expect(report).toContain(`| two-of-1 | 2 | ${cores[0]} / ${cores[1]} |`);
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('<table id="throughput">');
    console.log(
      `synthetic:tiny 64x64, 2 steps, 6 passes: 1 instance of 2 cores ${one.throughput.images_per_s.toFixed(2)} images/s (median ${one.stats.median_s.toFixed(3)} s); 2 instances of 1 core ${two.throughput.images_per_s.toFixed(2)} images/s (median ${two.stats.median_s.toFixed(3)} s)`,
    );
  });

  it('refuses instances that do not fit in the cores, in one line, before running anything', async () => {
    const file = path.join(dir, 'too-many.yaml');
    writeFileSync(
      file,
      'rungs:\n  - { id: many, backend: torch, launcher: { instances: 64, cores_per_instance: 64 } }\n',
    );
    const r = await ladder(['reproduce', '--ladder', file, ...TINY, '--out', path.join(dir, 'too-many')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^ladder: error: instances: 64 x 64 cores do not fit in the \d+ cores available/m);
  });
});
