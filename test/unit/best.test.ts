// "Best on this machine": the fastest rung above the quality floor, its speedup over the ladder's
// first rung and how sure that speedup is (a distribution-free CI of the ratio, the U test).
import { describe, expect, test } from 'vitest';
import { bestLines } from '../../src/render/best.ts';
import { renderReport } from '../../src/render/report.ts';
import { bestRung } from '../../src/results/best.ts';
import type { RungResult } from '../../src/results/run-file.ts';
import { minPValue, passesForSignificance, ratioCI } from '../../src/results/significance.ts';
import { fixtureRun } from '../fixtures/run.ts';

const quality = (psnr: number, flagged = false) => ({ reference: 'fp32', psnr_db: psnr, max_abs_diff: 0.1, flagged });

/** The article fixture seen as a beyond run: openvino-static (34.85 s) first, dpm made the fastest (26 s). */
function beyondRun(opts: { dpmFlagged?: boolean } = {}) {
  const run = fixtureRun();
  run.ladder = { ...run.ladder!, name: 'beyond', baseline: 'openvino-static' };
  for (const r of run.rungs) if (r.status === 'ok') r.quality = quality(35);
  const dpm = run.rungs.find((r) => r.id === 'dpm')!;
  dpm.samples_s = dpm.samples_s.map((x) => (x / 52.6) * 26);
  dpm.stats = { ...dpm.stats!, median_s: 26 };
  dpm.quality = opts.dpmFlagged ? quality(12, true) : quality(31);
  return run;
}

describe('ratioCI', () => {
  test('gives the textbook ranks for 5 against 5 passes (c = 3, coverage 96.8%)', () => {
    const cur = [1, 1.1, 0.9, 1.05, 0.95];
    const ref = [2, 2.1, 1.9, 2.05, 1.95];
    const ratios = ref.flatMap((r) => cur.map((c) => r / c)).sort((a, b) => a - b);
    const res = ratioCI(cur, ref)!;
    expect(res.ci).toEqual([ratios[2], ratios[22]]);
    expect(res.level).toBeCloseTo(1 - 8 / 252, 10);
  });

  test('says how little [min, max] covers when the passes are too few for 95%', () => {
    const res = ratioCI([1, 1.1], [2, 2.1])!;
    expect(res.ci).toEqual([2 / 1.1, 2.1]);
    expect(res.level).toBeCloseTo(1 - 2 / 6, 10);
  });

  test('contains the true ratio of two shifted samples, and nothing without passes', () => {
    const cur = Array.from({ length: 30 }, (_, i) => 10 + (i % 7) * 0.1);
    const ref = cur.map((x) => x * 1.5);
    const res = ratioCI(cur, ref)!;
    expect(res.ci[0]).toBeLessThanOrEqual(1.5);
    expect(res.ci[1]).toBeGreaterThanOrEqual(1.5);
    expect(ratioCI([], ref)).toBeUndefined();
  });
});

describe('best on this machine', () => {
  test('is the fastest rung above the floor, with its speedup over the first rung', () => {
    const run = beyondRun();
    const b = bestRung(run)!;
    expect(b.rung.id).toBe('dpm');
    expect(b.reference.id).toBe('openvino-static');
    expect(b.speedup).toBeCloseTo(b.reference.stats!.median_s / 26, 9);
    const line = bestLines(run)[0]!;
    expect(line).toContain('dpm');
    expect(line).toContain('over openvino-static');
    expect(renderReport(run)).toContain(line);
  });

  test('is never a rung whose image fell under the quality floor', () => {
    const run = beyondRun({ dpmFlagged: true });
    // The flagged rung is the fastest by far: it still must not win.
    const b = bestRung(run)!;
    expect(b.rung.id).not.toBe('dpm');
    expect(b.rung.quality?.flagged).toBeFalsy();
  });

  test('is never a rung whose image was not judged, and is the reference when nothing beats it', () => {
    const run = beyondRun();
    for (const r of run.rungs) if (r.id !== 'openvino-static') delete (r as Partial<RungResult>).quality;
    const b = bestRung(run)!;
    expect(b.rung.id).toBe('openvino-static');
    expect(bestLines(run)[0]).toContain('the reference itself');
  });

  test('is a verdict with a CI when the winner beats the reference', () => {
    const run = beyondRun();
    const fast = run.rungs.find((r) => r.id === 'jemalloc')!;
    fast.samples_s = fast.samples_s.map((x) => (x / 109.3) * 20);
    fast.stats = { ...fast.stats!, median_s: 20 };
    const b = bestRung(run)!;
    expect(b.rung.id).toBe('jemalloc');
    expect(b.speedup).toBeCloseTo(34.85 / 20, 1);
    expect(b.verdict).toBe('faster');
    expect(b.ci!.ci[0]).toBeLessThanOrEqual(b.speedup);
    expect(b.ci!.ci[1]).toBeGreaterThanOrEqual(b.speedup);
    expect(bestLines(run)[0]).toMatch(
      /jemalloc, 1\.7\dx over openvino-static, 9\d\.\d% CI 1\.\d\d–1\.\d\dx; U test: faster/,
    );
  });
});

describe('the best line in plain words', () => {
  /** The beyond fixture cut to `n` passes a rung, dpm's all far below the reference's. */
  function fewPasses(n: number) {
    const run = beyondRun();
    for (const r of run.rungs)
      if (r.status === 'ok') {
        r.samples_s = r.samples_s.slice(0, n);
        r.stats = { ...r.stats!, median_s: [...r.samples_s].sort((a, b) => a - b)[Math.floor(n / 2)]! };
      }
    return run;
  }

  test('the passes the U test needs are computed, not assumed: 2 / C(2n, n) first below 0.05 at n = 4', () => {
    expect(passesForSignificance(0.05)).toBe(4);
    expect(minPValue(3, 3)).toBeGreaterThanOrEqual(0.05);
    expect(passesForSignificance(0.01)).toBe(5); // 2/252 = 0.0079; 4 give 0.029
    expect(passesForSignificance(0.5)).toBe(2); // 2/6 = 0.33; 1 gives 1
  });

  test('says plainly that 3 passes cannot reach p < 0.05, and how many can', () => {
    const run = fewPasses(3);
    const b = bestRung(run)!;
    expect(b.rung.id).toBe('dpm');
    expect(b.speedup).toBeGreaterThan(1.2);
    expect(b.needed).toBe(4);
    const line = bestLines(run)[0]!;
    expect(line).toContain(
      'not shown faster: with 3 passes per rung the U test cannot reach p < 0.05, whatever the times (its smallest p is 0.100); 4 passes per rung can;',
    );
    // One level of brackets: none opens inside another.
    let depth = 0;
    for (const c of line) {
      depth += c === '(' ? 1 : c === ')' ? -1 : 0;
      expect(depth).toBeLessThanOrEqual(1);
    }
    // Only the speedup's direction: no B/A ratio below 1 beside a speedup above 1.
    expect(line).not.toMatch(/B\/A|0\.\d+x/);
    expect(line).not.toContain('too few samples');
  });

  test('a significant speedup under the 5% worth a change says both, in one level of words', () => {
    const run = beyondRun();
    const set = (id: string, xs: number[]) => {
      const r = run.rungs.find((x) => x.id === id)!;
      r.samples_s = xs;
      r.stats = { ...r.stats!, median_s: (xs[4]! + xs[5]!) / 2 };
    };
    set(
      'openvino-static',
      Array.from({ length: 10 }, (_, i) => 10 + i * 0.01),
    );
    set(
      'dpm',
      Array.from({ length: 10 }, (_, i) => 9.7 + i * 0.01),
    );
    for (const r of run.rungs) if (!['openvino-static', 'dpm'].includes(r.id)) delete r.quality;
    const line = bestLines(run)[0]!;
    expect(line).toMatch(/^Best on this machine: dpm, 1\.03x over openvino-static, /);
    expect(line).toMatch(/; U test: p=1\.1e-5, significant but under the 5% that counts as faster; /);
    expect(line).not.toMatch(/\([^)]*\(/);
  });

  test('with enough passes the verdict stands alone, without the counting note', () => {
    const line = bestLines(fewPasses(4))[0]!;
    expect(line).toMatch(/; U test: faster, p=0\.029; /);
    expect(line).not.toContain('cannot reach');
  });
});

describe('best throughput on this machine', () => {
  /** The beyond fixture with one rung run as 2 instances: slower per image, faster in images/s. */
  function instancesRun() {
    const run = beyondRun();
    const tp = (per: number[], instances: number) => ({
      instances,
      images_per_s: 1 / [...per].sort((a, b) => a - b)[Math.floor(per.length / 2)]!,
      window_s: 100,
      images: 3,
      pass_s_per_image: per,
    });
    for (const r of run.rungs) if (r.status === 'ok') r.throughput = tp(r.samples_s, 1);
    const two = run.rungs.find((r) => r.id === 'jemalloc')!;
    two.instances = [0, 1].map((k) => ({ cores: [k], pid: 100 + k, samples_s: two.samples_s, windows: [] }));
    two.throughput = tp([15, 16, 17, 15.5, 16.5], 2);
    return run;
  }

  test('is a line of its own, in images/s, only when some rung ran several instances', () => {
    expect(bestLines(beyondRun())).toHaveLength(1);
    const run = instancesRun();
    const [latency, throughput] = bestLines(run);
    expect(latency).toMatch(/^Best on this machine: dpm, /);
    const b = bestRung(run, 'throughput')!;
    expect(b.rung.id).toBe('jemalloc');
    expect(b.speedup).toBeCloseTo(b.rung.throughput!.images_per_s / b.reference.throughput!.images_per_s, 9);
    expect(throughput).toMatch(
      /^Best throughput on this machine: jemalloc, 2\.\d\dx over openvino-static in images\/s \(0\.0625 against 0\.0287\), \d+\.\d% CI [\d.]+–[\d.]+x; U test: faster/,
    );
    expect(renderReport(run)).toContain(throughput);
  });
});
