// Pure pieces of the hardening: each case failed before its fix.
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { launchPlan } from '../../src/launcher/launch.ts';
import { newRunDir, runStamp } from '../../src/results/out-dir.ts';
import { renderReport } from '../../src/results/report.ts';
import { placeOnRoofline, runPeaks } from '../../src/results/roofline.ts';
import { readPeaks } from '../../src/run/roofline-step.ts';
import { fixtureRun } from '../fixtures/run.ts';
import { tmpDir } from '../helpers.ts';

it('gives two runs started in the same millisecond two folders', () => {
  const root = tmpDir();
  const a = newRunDir(root, 'x');
  const b = newRunDir(root, 'x');
  expect(a).not.toBe(b);
  expect(readdirSync(root)).toHaveLength(2);
  expect(runStamp(new Date('2026-11-28T17:35:01.234Z'))).toBe('2026-11-28T17-35-01-234Z'); // milliseconds kept
});

it('keeps every variable that changes what is measured out of a worker, and says it', () => {
  const shell = {
    PATH: '/bin',
    GLIBC_TUNABLES: 'glibc.malloc.arena_max=1',
    MALLOC_ARENA_MAX: '1',
    PYTHONMALLOC: 'malloc',
    LD_LIBRARY_PATH: '/x',
    ATEN_CPU_CAPABILITY: 'avx2',
    OPENBLAS_NUM_THREADS: '1',
    TCMALLOC_RELEASE_RATE: '10',
    OV_CPU_THREADS: '1',
    PYTHONPATH: '/evil',
    LADDER_CACHE_DIR: '/c',
  };
  const plan = launchPlan('/py', { allocator: 'default' }, 'ipc:///x', 'r', shell);
  expect(
    Object.keys(plan.env)
      .filter((k) => k in shell)
      .sort(),
  ).toEqual(['LADDER_CACHE_DIR', 'PATH', 'PYTHONPATH']);
  expect(plan.env.PYTHONPATH).not.toBe('/evil');
  expect(plan.env).toMatchObject({
    DIFFUSERS_DISABLE_REMOTE_CODE: '1',
    HF_HUB_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
  });
});

it('rebuilds a broken peak cache instead of failing the run', () => {
  const file = path.join(tmpDir(), 'peaks.json');
  const lines: string[] = [];
  writeFileSync(file, '{"fp32": 3');
  expect(readPeaks(file, (l) => lines.push(l))).toEqual({});
  expect(lines[0]).toMatch(/is broken .*: probing again/);
  writeFileSync(file, JSON.stringify({ fp32: 'fast', bf16: -1, int8: 900 }));
  expect(readPeaks(file, () => undefined)).toEqual({ int8: 900 });
});

it('flags a share above 100% of the peak instead of printing it', () => {
  const run = fixtureRun();
  run.roofline = {
    flops: { text_encoding: 0, unet_per_call: 1e12, unet: 2.1e13, vae_decode: 0, safety_checker: 0, total: 2.1e13 },
    peaks_gflops: { fp32: 50, bf16: 2000 },
    peak_cache: '/dev/null',
  };
  placeOnRoofline(run);
  const base = run.rungs[0]!.roofline!;
  expect(base.dtype).toBe('fp32');
  expect(base.gflops).toBeGreaterThan(50);
  expect(base.pct_of_peak).toBeUndefined();
  expect(base.above_peak).toBe(true);
});

it("places rungs against this run's machine probe where it read above a cached peak (slow-moment cache)", () => {
  const run = fixtureRun();
  run.roofline = {
    flops: { text_encoding: 1e9, unet_per_call: 1e9, unet: 3e9, vae_decode: 1e9, safety_checker: 1e9 },
    peaks_gflops: { fp32: 150, bf16: 500 },
    peak_cache: '/dev/null',
  };
  const at = '2026-11-28T00:00:00Z';
  run.machine_probe = {
    backend: 'torch',
    start: { gflops: { fp32: 140, bf16: 700 }, probes: {}, at },
    end: { gflops: { fp32: 120, bf16: 750 }, probes: {}, at },
  };
  expect(runPeaks(run)).toEqual({ fp32: 150, bf16: 750 });
  placeOnRoofline(run);
  const base = run.rungs[0]!.roofline!;
  expect(base.dtype).toBe('fp32');
  expect(base.pct_of_peak).toBeCloseTo((100 * base.gflops) / 150);
  run.rungs[0]!.overhead = { controller_cpu_pct_of_passes: 0.1, bench_job_gap_ms: 1 };
  expect(renderReport(run)).toMatch(/bf16 750 GFLOP\/s \(this run's machine probe; the peak probe read 500\)/);
});
