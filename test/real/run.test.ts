// The real thing on synthetic:tiny, where real compute is what is proven: the worker against a plain
// diffusers loop, and --threads seen from inside the worker.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { overheadExitCode, overTargets, workerVerdict } from '../../src/commands/overhead.ts';
import { median } from '../../src/results/stats.ts';
import { ladder, TINY, tmpDir } from '../helpers.ts';

describe('ladder run and overhead (real worker, synthetic:tiny)', () => {
  it('measures the worker against a plain diffusers loop, interleaved, and the controller itself', async () => {
    const out = tmpDir();
    const r = await ladder([
      'overhead',
      ...['--model', 'synthetic:tiny', '--height', '64', '--width', '64', '--steps', '2', '--passes', '2'],
      ...['--rounds', '2', '--threads', '1', '--out', out],
    ]);
    // Two rounds give a 50% interval, and the figure says so.
    // Its figure: the format only (a timing target belongs in the benchmark, not in a test).
    expect(r.stdout).toMatch(
      /what the worker adds to a pass: [+-]\d+\.\d\d% \[[+-]\d+\.\d\d% – [+-]\d+\.\d\d% at 50%\] \(target < 1%: /,
    );
    expect(r.stdout).toMatch(
      /controller CPU while the worker measured: \d+\.\d{3}% of pass time \(median of 2 workers/,
    );
    expect(r.stdout).toMatch(/job time gap, controller vs worker: bench -?\d+\.\d{2} ms, load -?\d+\.\d{2} ms/);
    const doc = JSON.parse(readFileSync(path.join(out, 'overhead.json'), 'utf8'));
    // The exit code is the one its saved figures give: 10 when one is over its target (noise on a tiny
    // model can put one there), else 0.
    expect(r.exitCode, r.all).toBe(overheadExitCode(overTargets(doc)));
    // A fresh process for each side in each round, the order alternating, one thread on both sides.
    expect(doc.rounds.map((x: { order: string[] }) => x.order[0])).toEqual(['worker', 'plain']);
    const pids = doc.rounds.flatMap((x: { worker: { pid: number }; plain: { pid: number } }) => [
      x.worker.pid,
      x.plain.pid,
    ]);
    expect(new Set(pids).size).toBe(4);
    expect(doc.rounds.every((x: { plain: { torch_threads: number } }) => x.plain.torch_threads === 1)).toBe(true);
    // The same work: the plain loop's image is the worker's (PSNR null: identical, infinite in JSON).
    expect(doc.same_image.max_abs_diff).toBeLessThan(1e-3);
    expect(doc.same_image.psnr_db === null || doc.same_image.psnr_db >= 60).toBe(true);
    // Each round's ratio is that round's worker median over its plain median, and the verdict printed and
    // saved is the one the interval gives.
    const perRound = doc.rounds.map(
      (x: { worker: { samples_s: number[] }; plain: { samples_s: number[] } }) =>
        median(x.worker.samples_s) / median(x.plain.samples_s),
    );
    expect(doc.worker_cost.per_round).toHaveLength(2);
    for (const [k, x] of (doc.worker_cost.per_round as number[]).entries()) expect(x).toBeCloseTo(perRound[k], 9);
    expect(doc.worker_cost.verdict).toBe(workerVerdict(doc.worker_cost));
    expect(r.stdout).toContain(`(target < 1%: ${doc.worker_cost.verdict})`);
    // The worker's socket and libzmq threads are found by name and their CPU counted (this kernel says).
    expect(Number.isFinite(doc.worker_service_cpu_pct_of_passes)).toBe(true);
    expect(r.stdout).toMatch(/the worker's socket and libzmq threads ran \d+\.\d{3}% of pass time/);
  });

  it('honours --threads inside the worker', async () => {
    const out = tmpDir();
    const r = await ladder([
      'run',
      'baseline',
      ...TINY,
      '--passes',
      '1',
      '--threads',
      '1',
      '--no-roofline',
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(0);
    const eff = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')).rungs[0].effective;
    expect(eff.threads).toMatchObject({ OMP_NUM_THREADS: '1', torch_intra_op: 1 });
  });
});
